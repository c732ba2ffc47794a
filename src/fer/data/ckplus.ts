/** CK+48 (index.csv with a subject column) and subject-wise k-fold cross-validation. */
import path from 'node:path';
import { columnIndex, parseCsvLine, readLines } from './csv.js';
import { decodeAll } from './decode-all.js';
import { byCodePoint, classFolders } from './image-folder.js';
import type { ImageOptions, LoadedDataset, Sample } from './types.js';

/**
 * Loads `<root>/index.csv` (columns path, label, subject): labels index the sorted class folder names,
 * as ImageFolder would give them (anger contempt disgust fear happy sadness surprise), and every sample
 * carries its subject. A row whose label is not a class folder, or whose path is empty or leads outside
 * `root` (../../x.png, /etc/x.png), throws naming the line. `lastFrame` keeps one image per sequence,
 * its highest frame (columns sequence and frame, which CK+48's index has): the peak of the expression,
 * what a still-image model is compared on beside a model of the clip.
 */
export function ckplus48(root: string, options: ImageOptions & { lastFrame?: boolean } = {}): LoadedDataset {
  const classNames = classFolders(root);
  const indexFile = path.join(root, 'index.csv');
  const [header, ...rows] = readLines(indexFile);
  if (!header) throw new Error(`ckplus48: ${indexFile} is empty`);
  const columns = parseCsvLine(header.text);
  const [pathCol, labelCol, subjectCol] = columnIndex(columns, ['path', 'label', 'subject'], indexFile);
  const [sequenceCol, frameCol] = options.lastFrame ? columnIndex(columns, ['sequence', 'frame'], indexFile) : [-1, -1];
  const entries = rows.map(({ line, text }) => {
    const cells = parseCsvLine(text);
    const label = classNames.indexOf(cells[labelCol]);
    if (label < 0) throw new Error(`ckplus48: ${indexFile}:${line} has label '${cells[labelCol]}', expected one of ${classNames.join(', ')}`);
    if (!cells[subjectCol]) throw new Error(`ckplus48: ${indexFile}:${line} has no subject`);
    const frame = frameCol < 0 ? 0 : cells[frameCol]?.trim() ? Number(cells[frameCol]) : NaN;
    if (!Number.isInteger(frame) || (sequenceCol >= 0 && !cells[sequenceCol])) {
      throw new Error(`ckplus48: ${indexFile}:${line} has sequence '${cells[sequenceCol]}' and frame '${cells[frameCol]}'; expected a name and an integer`);
    }
    const entry = { file: fileUnderRoot(root, cells[pathCol], `${indexFile}:${line}`), label, subject: cells[subjectCol] };
    // A sequence is one subject's: sequence ids may repeat across subjects (001, 002, ...).
    return { entry, sequence: sequenceCol < 0 ? '' : `${cells[subjectCol]}\0${cells[sequenceCol]}`, frame };
  });
  const last = new Map<string, number>();
  for (const { sequence, frame } of entries) last.set(sequence, Math.max(last.get(sequence) ?? -Infinity, frame));
  const kept = options.lastFrame ? entries.filter(({ sequence, frame }) => last.get(sequence) === frame) : entries;
  return { ...decodeAll('ckplus48', kept.map(({ entry }) => entry), options), classNames };
}

/**
 * The fold of each sample in subject-wise k-fold cross-validation: distinct subjects sorted as strings
 * (code points), the subject of rank r in fold r mod k. No subject is in two folds.
 */
export function subjectFolds(subjects: readonly (string | undefined)[], k: number): Int32Array {
  const distinct = [...new Set(subjects)];
  if (distinct.includes(undefined)) throw new Error('subjectFolds: every sample needs a subject');
  if (!Number.isInteger(k) || k < 2 || k > distinct.length) {
    throw new Error(`subjectFolds: k must be an integer in 2..${distinct.length} (the number of subjects), got ${k}`);
  }
  const rank = new Map((distinct as string[]).sort(byCodePoint).map((s, r) => [s, r]));
  return Int32Array.from(subjects, (s) => rank.get(s!)! % k);
}

/** Fold `fold` of k as the test set, the other folds as the training set, each in the original order. */
export function subjectSplit(samples: readonly Sample[], k: number, fold: number): { train: Sample[]; test: Sample[] } {
  if (!Number.isInteger(fold) || fold < 0 || fold >= k) throw new Error(`subjectSplit: fold must be an integer in 0..${k - 1}, got ${fold}`);
  const folds = subjectFolds(samples.map((s) => s.subject), k);
  return { train: samples.filter((_, i) => folds[i] !== fold), test: samples.filter((_, i) => folds[i] === fold) };
}

/** `relative` (a row's path column) joined to `root`, refused when empty or when it leads outside root:
 *  an index is data, and must not make the loader read files elsewhere. */
function fileUnderRoot(root: string, relative: string, where: string): string {
  if (!relative) throw new Error(`ckplus48: ${where} has no path`);
  const file = path.resolve(root, relative);
  const inside = path.relative(path.resolve(root), file);
  if (!inside || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
    throw new Error(`ckplus48: ${where} has path '${relative}', which leads outside the data root ${root}; expected a path under it`);
  }
  return path.join(root, inside);
}
