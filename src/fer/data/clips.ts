/**
 * Clips (image sequences) for models of clips (ARPGNet). A clip is one Sample whose image holds its T
 * frames, each [C, H, W], one after the other: [T·C, H, W], frame-major. Every per-image transform of
 * this layer therefore treats a clip as one image of T·C planes, and so does the same to every frame:
 * augment's flip, rotation, crop and erasing box are drawn once per sample and applied to all its
 * planes; normalisation is per plane with one mean and std.
 *
 * Fixed T: a sequence of L frames becomes T frames by
 *  - sampling (L > T): frames round(i·(L-1)/(T-1)), i = 0..T-1, evenly spaced from the first to the
 *    last (the apex, in CK+ and in onset-to-apex clips, is always kept); T = 1 keeps the last;
 *  - padding (L < T): the first frame repeated in front (a longer still onset), the frames kept in order.
 *
 * Sources: the built-in synthetic faces animated from neutral to their expression; CK+48's index.csv
 * (its `sequence` and `frame` columns, three frames per sequence); a `<class>/<clip>/<frame>` folder;
 * and any dataset of still images, each repeated T times (a static clip, for pretraining on FER2013).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { columnIndex, parseCsvLine, readLines } from './csv.js';
import { decodeAll } from './decode-all.js';
import { byCodePoint, classFolders } from './image-folder.js';
import { syntheticFrame, syntheticLabel, SYNTHETIC_CLASSES } from './synthetic.js';
import { resolveImageOptions, type ImageOptions, type LoadedDataset, type Sample, type Skipped } from './types.js';
import { sampleAt, type Dataset } from './loader.js';

/** The indices of the L frames that make T: evenly spaced first to last, or padded with the first in front. */
export function clipFrameIndices(length: number, frames: number): number[] {
  if (!Number.isInteger(length) || length < 1) throw new Error(`clipFrameIndices: a clip needs at least one frame, got ${length}`);
  if (!Number.isInteger(frames) || frames < 1) throw new Error(`clipFrameIndices: T must be a positive integer, got ${frames}`);
  if (length >= frames) {
    if (frames === 1) return [length - 1];
    return Array.from({ length: frames }, (_, i) => Math.round((i * (length - 1)) / (frames - 1)));
  }
  return [...Array(frames - length).fill(0), ...Array.from({ length }, (_, i) => i)];
}

/** The frames at `indices` stacked as one [T·C, H, W] image. */
export function stackFrames(images: readonly Float32Array[], indices: readonly number[]): Float32Array {
  const size = images[0].length;
  const out = new Float32Array(indices.length * size);
  indices.forEach((k, t) => {
    if (images[k].length !== size) throw new Error(`stackFrames: frame ${k} has ${images[k].length} values, frame 0 has ${size}`);
    out.set(images[k], t * size);
  });
  return out;
}

export interface SyntheticClipOptions {
  count: number;
  frames: number;
  size?: number;
  channels?: number;
  seed?: number;
}

/**
 * The synthetic faces as clips: clip i of seed s is syntheticFace(s, i)'s person (identity, pose,
 * lighting, class) going from neutral (frame 0) to the sample's expression (frame T-1) linearly, each
 * frame with its own noise; T = 1 is the expression alone. Neutral clips stay neutral, so that the class
 * is in how the face changes as well as in where it ends. Drawn on demand; labels as syntheticLabel.
 */
export function syntheticClips({ count, frames, size = 48, channels = 1, seed = 0 }: SyntheticClipOptions) {
  if (!Number.isInteger(count) || count < 0) throw new Error(`syntheticClips: count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(frames) || frames < 1) throw new Error(`syntheticClips: frames must be a positive integer, got ${frames}`);
  return {
    length: count,
    classNames: [...SYNTHETIC_CLASSES],
    label: (index: number) => syntheticLabel(seed, index),
    get(index: number): Sample {
      const images = Array.from({ length: frames }, (_, t) => syntheticFrame(seed, index, frames === 1 ? 1 : t / (frames - 1), t, size, channels));
      return { image: stackFrames(images, images.map((_, t) => t)), label: syntheticLabel(seed, index), file: `synthetic-clip:${seed}:${index}` };
    },
  };
}

/** Each still image of `dataset` as a clip of T copies of itself. */
export function stillClips(dataset: Dataset, frames: number): Dataset {
  const get = sampleAt(dataset);
  const repeat = (sample: Sample): Sample => {
    const out: Sample = { ...sample, image: stackFrames([sample.image], Array(frames).fill(0)) };
    if (sample.clean) out.clean = stackFrames([sample.clean], Array(frames).fill(0));
    return out;
  };
  if (frames === 1) return dataset;
  return { length: dataset.length, get: (i: number, epoch?: number) => repeat(get(i, epoch)) };
}

/** Decodes each clip's frames and stacks them to T; clips with an unreadable frame are skipped whole. */
function decodeClips(
  what: string,
  clips: { name: string; files: string[]; label: number; subject?: string }[],
  frames: number,
  options: ImageOptions,
): { samples: Sample[]; skipped: Skipped[] } {
  const { maxSkipFraction } = resolveImageOptions(options);
  const samples: Sample[] = [];
  const skipped: Skipped[] = [];
  for (const clip of clips) {
    // Every frame of a clip must decode (a clip with a frame missing would be another clip).
    const decoded = decodeAll(what, clip.files.map((file) => ({ file, label: clip.label })), { ...options, maxSkipFraction: 1 });
    if (decoded.skipped.length) {
      skipped.push({ file: clip.name, reason: `frame ${decoded.skipped[0].file}: ${decoded.skipped[0].reason}` });
      continue;
    }
    const images = decoded.samples.map((s) => s.image);
    samples.push({ image: stackFrames(images, clipFrameIndices(images.length, frames)), label: clip.label, file: clip.name, ...(clip.subject ? { subject: clip.subject } : {}) });
  }
  if (skipped.length > maxSkipFraction * clips.length) {
    throw new Error(`${what}: ${skipped.length} of ${clips.length} clips could not be decoded, more than the allowed fraction ${maxSkipFraction}; ` +
      `first: ${skipped.slice(0, 5).map((s) => `${s.file} (${s.reason})`).join('; ')}`);
  }
  return { samples, skipped };
}

/**
 * CK+48 as clips: `<root>/index.csv` with columns path, label, subject, sequence, frame; the rows of each
 * sequence, ordered by frame number, make one clip of T frames (CK+48 keeps the last three of each
 * sequence: T = 3 takes them as they are). Every sample carries its subject, so subjectSplit gives the
 * folds PCNN's images get. A sequence whose rows disagree on label or subject is refused.
 */
export function ckplusClips(root: string, frames: number, options: ImageOptions = {}): LoadedDataset {
  const classNames = classFolders(root);
  const indexFile = path.join(root, 'index.csv');
  const [header, ...rows] = readLines(indexFile);
  if (!header) throw new Error(`ckplusClips: ${indexFile} is empty`);
  const names = parseCsvLine(header.text);
  if (!names.includes('sequence') || !names.includes('frame')) {
    throw new Error(`ckplusClips: ${indexFile} has no 'sequence' and 'frame' columns (it has ${names.join(', ')}); clips need them`);
  }
  const [pathCol, labelCol, subjectCol, sequenceCol, frameCol] = columnIndex(names, ['path', 'label', 'subject', 'sequence', 'frame'], indexFile);
  const sequences = new Map<string, { label: number; subject: string; rows: { frame: number; file: string; line: number }[] }>();
  const realRoot = path.resolve(root);
  for (const { line, text } of rows) {
    const cells = parseCsvLine(text);
    const where = `${indexFile}:${line}`;
    const label = classNames.indexOf(cells[labelCol]);
    if (label < 0) throw new Error(`ckplusClips: ${where} has label '${cells[labelCol]}', expected one of ${classNames.join(', ')}`);
    const [subject, sequence, frame] = [cells[subjectCol], cells[sequenceCol], Number(cells[frameCol])];
    if (!subject || !sequence) throw new Error(`ckplusClips: ${where} has no subject or sequence`);
    if (!Number.isInteger(frame)) throw new Error(`ckplusClips: ${where} has frame '${cells[frameCol]}', expected an integer`);
    const file = path.resolve(root, cells[pathCol] ?? '');
    const inside = path.relative(realRoot, file);
    if (!cells[pathCol] || !inside || inside.startsWith('..') || path.isAbsolute(inside)) {
      throw new Error(`ckplusClips: ${where} has path '${cells[pathCol] ?? ''}', which is empty or leads outside the data root ${root}`);
    }
    const key = `${subject}\u0000${sequence}`;
    const entry = sequences.get(key) ?? { label, subject, rows: [] };
    if (entry.label !== label) throw new Error(`ckplusClips: ${where}: sequence ${sequence} has labels ${classNames[entry.label]} and ${classNames[label]}`);
    entry.rows.push({ frame, file, line });
    sequences.set(key, entry);
  }
  const clips = [...sequences.entries()].map(([key, s]) => ({
    name: `${indexFile}:${key.split('\u0000')[1]}`,
    files: s.rows.sort((a, b) => a.frame - b.frame).map((r) => r.file),
    label: s.label,
    subject: s.subject,
  }));
  return { ...decodeClips('ckplusClips', clips, frames, options), classNames };
}

/** Natural order of frame names: digit runs compared as numbers (frame2 before frame10), then by code point. */
export function byFrameName(a: string, b: string): number {
  const parts = (s: string) => s.split(/(\d+)/);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const numeric = i % 2 === 1;
    if (numeric && Number(pa[i]) !== Number(pb[i])) return Number(pa[i]) - Number(pb[i]);
    return byCodePoint(pa[i], pb[i]);
  }
  return pa.length - pb.length || byCodePoint(a, b);
}

const FRAME_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp']);

/** The frame files of one clip folder, in natural name order; none is an error naming the folder. */
export function clipFrames(dir: string): string[] {
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.isDirectory() && FRAME_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(byFrameName)
    .map((name) => path.join(dir, name));
  if (!files.length) throw new Error(`clip folder ${dir} holds no frame image`);
  return files;
}

/** Whether `root` looks like `<class>/<clip>/<frame>`: its first class folder holds folders. */
export function isClipFolder(root: string): boolean {
  try {
    const [first] = classFolders(root);
    const dir = path.join(root, first);
    return readdirSync(dir).some((name) => statSync(path.join(dir, name)).isDirectory());
  } catch {
    return false;
  }
}

/** `<root>/<class>/<clip>/<frame>.<ext>`: labels by sorted class folder, one clip per sub-folder, frames
 *  in natural name order, fitted to T (clipFrameIndices). */
export function clipFolder(root: string, frames: number, options: ImageOptions = {}): LoadedDataset {
  const classNames = classFolders(root);
  const clips = classNames.flatMap((name, label) => {
    const dir = path.join(root, name);
    const clipDirs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort(byCodePoint);
    if (!clipDirs.length) throw new Error(`clipFolder: class folder ${dir} holds no clip folder (expected ${root}/<class>/<clip>/<frame>.png)`);
    return clipDirs.map((clip) => ({ name: path.join(dir, clip), files: clipFrames(path.join(dir, clip)), label }));
  });
  return { ...decodeClips('clipFolder', clips, frames, options), classNames };
}
