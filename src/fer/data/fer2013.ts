/** FER2013 in its original CSV form: `emotion,pixels,Usage`, one 48x48 gray face per row. */
import { columnIndex, parseCsvLine, readLines } from './csv.js';
import { resizeAntialiased, toChannels } from './image.js';
import { resolveImageOptions, type ImageOptions, type LoadedDataset } from './types.js';

/** FER2013's labels 0..6 in order. */
export const FER2013_CLASSES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
export type Fer2013Usage = 'Training' | 'PublicTest' | 'PrivateTest';

export interface Fer2013Options extends ImageOptions {
  /** Keep only rows with these Usage values (all rows when absent). */
  usage?: Fer2013Usage | readonly Fer2013Usage[];
  /** The longest line accepted, in characters (default csv's DEFAULT_MAX_LINE_LENGTH, 1 MiB; a row is ~7 KB). */
  maxLineLength?: number;
}

const SIDE = 48;

/**
 * Reads the CSV (columns found by header name; Usage may be absent when no filter is asked for).
 * Malformed rows are errors, not skips: a row with other than 2304 pixels, a pixel that is not an
 * integer in 0..255, or an emotion outside 0..6 throws naming the line, because a CSV that breaks
 * there is damaged as a whole and its other rows cannot be trusted.
 */
export function fer2013Csv(path: string, options: Fer2013Options = {}): LoadedDataset {
  const { channels, size } = resolveImageOptions(options);
  const [header, ...rows] = readLines(path, options.maxLineLength);
  if (!header) throw new Error(`fer2013Csv: ${path} is empty`);
  const fields = parseCsvLine(header.text);
  const [emotionCol, pixelsCol] = columnIndex(fields, ['emotion', 'pixels'], path);
  const usage = options.usage === undefined ? null : new Set<string>([options.usage].flat());
  const usageCol = usage ? columnIndex(fields, ['Usage'], path)[0] : -1;
  const samples = [];
  for (const { line, text } of rows) {
    const cells = parseCsvLine(text);
    const where = `${path}:${line}`;
    if (cells.length !== fields.length) {
      throw new Error(`fer2013Csv: ${where} has ${cells.length} fields, expected ${fields.length}`);
    }
    if (usage && !usage.has(cells[usageCol].trim())) continue;
    const raw = cells[emotionCol].trim();
    const label = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(label < FER2013_CLASSES.length)) {
      throw new Error(`fer2013Csv: ${where} has emotion '${cells[emotionCol]}', expected an integer in 0..6`);
    }
    const gray = { data: parsePixels(cells[pixelsCol], where), channels: 1, height: SIDE, width: SIDE };
    const image = resizeAntialiased(toChannels(gray, channels), size[0], size[1]).data;
    samples.push({ image, label, file: where });
  }
  return { samples, classNames: [...FER2013_CLASSES], skipped: [] };
}

function parsePixels(text: string, where: string): Float32Array {
  const values = text.trim().split(/\s+/);
  if (values.length !== SIDE * SIDE) {
    throw new Error(`fer2013Csv: ${where} has ${values.length} pixels, expected ${SIDE * SIDE} (48x48)`);
  }
  const data = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (!/^\d+$/.test(values[i]) || v > 255) {
      throw new Error(`fer2013Csv: ${where} pixel ${i} is '${values[i]}', expected an integer in 0..255`);
    }
    data[i] = v / 255;
  }
  return data;
}
