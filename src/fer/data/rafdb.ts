/** RAF-DB basic emotions: EmoLabel/list_patition_label.txt (sic) and the aligned 100x100 faces. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readLines } from './csv.js';
import { decodeAll } from './decode-all.js';
import type { ImageOptions, LoadedDataset } from './types.js';

/** RAF-DB's labels 1..7, stored here as 0..6. */
export const RAFDB_CLASSES = ['surprise', 'fear', 'disgust', 'happiness', 'sadness', 'anger', 'neutral'];

export interface RafDbOptions extends ImageOptions {
  /** 'train' or 'test': the file-name prefix of the split. */
  split: 'train' | 'test';
}

/** The first of `candidates` (relative to root) that exists. */
function locate(root: string, candidates: string[], what: string): string {
  const found = candidates.map((c) => path.join(root, c)).find((p) => existsSync(p));
  if (!found) throw new Error(`rafDb: no ${what} under ${root} (looked for ${candidates.join(', ')})`);
  return found;
}

/**
 * Reads `<root>/EmoLabel/list_patition_label.txt` (or `<root>/list_patition_label.txt`): lines
 * `train_00001.jpg 5`. The image of `train_00001.jpg` is `<root>/Image/aligned/train_00001_aligned.jpg`
 * (or `<root>/aligned/...`). Labels outside 1..7 and lines not of that form throw naming the line.
 */
export function rafDb(root: string, options: RafDbOptions): LoadedDataset {
  if (options.split !== 'train' && options.split !== 'test') {
    throw new Error(`rafDb: split must be 'train' or 'test', got '${options.split}'`);
  }
  const listFile = locate(root, ['EmoLabel/list_patition_label.txt', 'list_patition_label.txt'], 'list_patition_label.txt');
  const aligned = locate(root, ['Image/aligned', 'aligned'], 'aligned image folder');
  const entries = [];
  for (const { line, text } of readLines(listFile)) {
    const match = /^\s*((train|test)_\d+)\.jpg\s+(\S+)\s*$/.exec(text);
    if (!match) throw new Error(`rafDb: ${listFile}:${line} is '${text}', expected '<train|test>_<number>.jpg <label>'`);
    const label = /^[1-7]$/.test(match[3]) ? Number(match[3]) - 1 : NaN;
    if (Number.isNaN(label)) throw new Error(`rafDb: ${listFile}:${line} has label '${match[3]}', expected 1..7`);
    if (match[2] === options.split) entries.push({ file: path.join(aligned, `${match[1]}_aligned.jpg`), label });
  }
  if (!entries.length) throw new Error(`rafDb: ${listFile} lists no ${options.split} image`);
  return { ...decodeAll('rafDb', entries, options), classNames: [...RAFDB_CLASSES] };
}
