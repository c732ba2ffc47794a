/**
 * FERPlus (Barsoum et al. 2016): FER2013 faces relabelled by 10 annotators. Labels by the paper's
 * "majority" protocol, as in Microsoft's reference code (FERPlus/src/ferplus.py, _process_data):
 * votes of 1 are outliers and set to 0; the most voted class wins if it holds more than half of the
 * remaining votes, otherwise the face is 'unknown'; 'unknown' and 'NF' (not a face) winners are dropped.
 */
import path from 'node:path';
import { parseCsvLine, readLines } from './csv.js';
import { decodeAll, type ImageEntry } from './decode-all.js';
import type { ImageOptions, LoadedDataset, Sample } from './types.js';

export const FERPLUS_CLASSES = ['neutral', 'happiness', 'surprise', 'sadness', 'anger', 'disgust', 'fear', 'contempt'];
const VOTE_COLUMNS = [...FERPLUS_CLASSES, 'unknown', 'NF'];
const UNKNOWN = 8;

/** The majority label of 10 vote counts, or UNKNOWN (8) / NF (9) when the face is to be dropped. A tie
 *  for the most votes is never more than half of them, so a tied face is 'unknown' and dropped. */
export function majorityVote(votes: readonly number[]): number {
  const kept = votes.map((v) => (v <= 1 ? 0 : v));
  const total = kept.reduce((a, b) => a + b, 0);
  const max = Math.max(...kept);
  return max > 0.5 * total ? kept.indexOf(max) : UNKNOWN;
}

export interface FerPlusResult extends LoadedDataset {
  /** Faces dropped by the protocol: no majority or 'unknown' won, 'NF' won, no image name in the row. */
  dropped: { unknown: number; notFace: number; noImage: number };
}

/**
 * `labelCsv` is either fer2013new.csv (header `Usage,Image name,<10 vote columns>`, rows in
 * fer2013.csv's order) or a FER2013{Train,Valid,Test}/label.csv (no header: `name,"(box)",<10 votes>`).
 * `images` is the folder holding the named PNGs, or FER2013's samples in fer2013.csv's row order (e.g.
 * `fer2013Csv(path).samples`), which fer2013new.csv's rows pair with one to one.
 */
export function ferPlus(labelCsv: string, images: string | readonly Sample[], options: ImageOptions = {}): FerPlusResult {
  const lines = readLines(labelCsv);
  const hasHeader = lines.length > 0 && parseCsvLine(lines[0].text).at(-1)?.trim() === 'NF';
  const nameCol = hasHeader ? parseCsvLine(lines[0].text).map((h) => h.trim()).indexOf('Image name') : 0;
  if (nameCol < 0) throw new Error(`ferPlus: ${labelCsv} has a header without an 'Image name' column`);
  const rows = hasHeader ? lines.slice(1) : lines;
  if (typeof images !== 'string' && images.length !== rows.length) {
    throw new Error(`ferPlus: ${labelCsv} has ${rows.length} rows but ${images.length} images were given; expected one image per row`);
  }
  const dropped = { unknown: 0, notFace: 0, noImage: 0 };
  const entries: (ImageEntry & { row: number })[] = [];
  rows.forEach(({ line, text }, row) => {
    const cells = parseCsvLine(text);
    const votes = cells.slice(-VOTE_COLUMNS.length).map((v) => v.trim());
    if (cells.length < VOTE_COLUMNS.length + 1 || !votes.every((v) => /^\d+$/.test(v))) {
      throw new Error(`ferPlus: ${labelCsv}:${line} should end in ${VOTE_COLUMNS.length} vote counts (${VOTE_COLUMNS.join(',')}), got '${text}'`);
    }
    const name = cells[nameCol].trim();
    const label = majorityVote(votes.map(Number));
    if (!name) dropped.noImage++;
    else if (label === UNKNOWN) dropped.unknown++;
    else if (label > UNKNOWN) dropped.notFace++;
    else entries.push({ file: typeof images === 'string' ? path.join(images, name) : name, label, row });
  });
  const classNames = [...FERPLUS_CLASSES];
  if (typeof images === 'string') {
    const loaded = decodeAll('ferPlus', entries.map(({ row, ...entry }) => entry), options);
    return { ...loaded, classNames, dropped };
  }
  const samples = entries.map(({ row, label, file }) => ({ ...images[row], label, file }));
  return { samples, classNames, skipped: [], dropped };
}
