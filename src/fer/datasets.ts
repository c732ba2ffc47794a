/**
 * Resolves `--data` to train and evaluation sets:
 * - `synthetic` (default): the embedded synthetic faces (train and validation drawn from different seeds);
 * - a folder with `train/` and `test/` class folders (FER2013's image-folder release);
 * - a folder with `index.csv` and a `subject` column (CK+48): subject-wise fold `fold` of `folds`;
 * - FERPlus's release (`FER2013Train/`, `FER2013Valid/`, `FER2013Test/`, each PNGs and a `label.csv` of
 *   vote counts): majority labels over 8 classes, FER2013Train for training and FER2013Test for evaluation;
 * - RAF-DB's basic release (`EmoLabel/list_patition_label.txt`, `Image/aligned/`): its train/test split;
 * - a plain class-per-folder image folder: a seeded, stratified 80/20 split;
 * - a FER2013 `.csv`: Training rows for training, PublicTest + PrivateTest for evaluation.
 * With `frames` (a model of clips, ARPGNet; data/clips.ts), samples are clips of T frames: the synthetic
 * faces animated from neutral to their expression; CK+48's sequences (index.csv's sequence and frame
 * columns), split by subject as the images are; `<class>/<clip>/<frame>` folders (also as train/ and
 * test/); and every other layout's still images, each repeated T times.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  ckplus48, fer2013Csv, ferPlus, imageFolder, rafDb, subjectSplit, syntheticDataset,
  type Dataset, type ImageOptions, type LoadedDataset, type Sample, type Skipped,
} from './data/index.js';
import { Generator } from '../engine/random.js';
import { ckplusClips, clipFolder, isClipFolder, stillClips, syntheticClips } from './data/clips.js';

export interface DataChoice {
  data: string;
  inputSize: number;
  inChannels: number;
  seed: number;
  /** Cross-validation fold (subject-wise folders) and number of folds. */
  fold?: number;
  folds?: number;
  /** Size of the synthetic training set (validation: a quarter of it). */
  syntheticCount?: number;
  /** The synthetic faces carry their exact masks (for compositing, FERAtt). */
  masks?: boolean;
  /** CK+48: only each sequence's last frame. */
  lastFrame?: boolean;
  /** Clips of this many frames (models of clips: ARPGNet); absent for still images. */
  frames?: number;
}

export interface ResolvedData {
  name: string;
  train: Dataset;
  test: Dataset;
  classNames: string[];
  skipped: Skipped[];
  /** Where each split comes from, in words naming the file or folder (for the error on an empty one). */
  sources: Record<Split, string>;
}

export type Split = 'train' | 'test';

/** Refuses a split without images, naming where it was read from: the loader would only say that a
 *  dataset is empty, and train would spend an epoch before finding an empty test split. */
export function requireImages(data: ResolvedData, split: Split): void {
  const images = split === 'train' ? data.train : data.test;
  if (images.length === 0) throw new Error(`the ${split === 'train' ? 'training' : 'test'} split of ${data.name} has no images: ${data.sources[split]}`);
}

export function resolveData(choice: DataChoice): ResolvedData {
  if (choice.frames !== undefined) return resolveClips(choice, choice.frames);
  return resolveStills(choice);
}

/** The clips of `choice.data` (see the header). */
function resolveClips(choice: DataChoice, frames: number): ResolvedData {
  const { data, inputSize, inChannels, seed } = choice;
  const options = { channels: inChannels, size: [inputSize, inputSize] as const };
  const clips = `clips of ${frames} frame(s)`;
  if (data === 'synthetic') {
    const count = choice.syntheticCount ?? 4200;
    const train = syntheticClips({ count, frames, size: inputSize, channels: inChannels, seed: seed * 2 + 1 });
    const test = syntheticClips({ count: Math.ceil(count / 4), frames, size: inputSize, channels: inChannels, seed: seed * 2 + 2 });
    const sources = { train: `${count} synthetic ${clips}`, test: `${test.length} synthetic ${clips}` };
    return { name: `synthetic ${clips}`, train, test, classNames: train.classNames, skipped: [], sources };
  }
  if (existsSync(data) && statSync(data).isDirectory()) {
    const [trainDir, testDir] = [path.join(data, 'train'), path.join(data, 'test')];
    if (existsSync(trainDir) && existsSync(testDir) && isClipFolder(trainDir)) {
      const sources = { train: `${trainDir} holds no readable clip`, test: `${testDir} holds no readable clip` };
      return { name: `${path.basename(data)} (${clips})`, ...pair(clipFolder(trainDir, frames, options), clipFolder(testDir, frames, options)), sources };
    }
    if (existsSync(path.join(data, 'index.csv')) && !existsSync(trainDir)) {
      if (choice.lastFrame) throw new Error(`--last-frame is for models of still images; clips read ${data}'s sequences whole`);
      const all = ckplusClips(data, frames, options);
      const { train, test } = subjectSplit(all.samples, choice.folds ?? 10, choice.fold ?? 0);
      const fold = `fold ${choice.fold ?? 0} of ${choice.folds ?? 10}`;
      const index = path.join(data, 'index.csv');
      const sources = { train: `${index} has no sequence of a subject outside ${fold}`, test: `${index} has no sequence of a subject in ${fold}` };
      return { name: `${path.basename(data)} ${clips}, fold ${choice.fold ?? 0}/${choice.folds ?? 10}`, train, test, classNames: all.classNames, skipped: all.skipped, sources };
    }
    if (!(existsSync(trainDir) && existsSync(testDir)) && isClipFolder(data)) {
      const all = clipFolder(data, frames, options);
      const { train, test } = stratifiedSplit(all.samples, 0.2, seed);
      const sources = { train: `${data} has too few clips per class for an 80/20 split`, test: `${data} has too few clips per class for a 20% test split` };
      return { name: `${path.basename(data)} (${clips})`, train, test, classNames: all.classNames, skipped: all.skipped, sources };
    }
  }
  const stills = resolveStills(choice);
  return { ...stills, name: `${stills.name} (still images as ${clips})`, train: stillClips(stills.train, frames), test: stillClips(stills.test, frames) };
}

function resolveStills(choice: DataChoice): ResolvedData {
  const { data, inputSize, inChannels, seed } = choice;
  const options = { channels: inChannels, size: [inputSize, inputSize] as const };
  if (data === 'synthetic') {
    const count = choice.syntheticCount ?? 4200;
    const train = syntheticDataset({ count, size: inputSize, channels: inChannels, seed: seed * 2 + 1, masks: choice.masks });
    const test = syntheticDataset({ count: Math.ceil(count / 4), size: inputSize, channels: inChannels, seed: seed * 2 + 2 });
    const sources = { train: `${count} synthetic faces`, test: `${test.length} synthetic faces` };
    return { name: 'synthetic', train, test, classNames: train.classNames, skipped: [], sources };
  }
  if (!existsSync(data)) throw new Error(`--data ${data}: no such file or folder (or use 'synthetic')`);
  if (statSync(data).isFile()) {
    if (!data.endsWith('.csv')) throw new Error(`--data ${data}: a file must be a FER2013 .csv (emotion,pixels,Usage)`);
    const train = fer2013Csv(data, { ...options, usage: 'Training' });
    const test = fer2013Csv(data, { ...options, usage: ['PublicTest', 'PrivateTest'] });
    const sources = { train: `${data} has no row with Usage Training`, test: `${data} has no row with Usage PublicTest or PrivateTest` };
    return { name: path.basename(data), ...pair(train, test), sources };
  }
  if (existsSync(path.join(data, 'train')) && existsSync(path.join(data, 'test'))) {
    const [train, test] = [path.join(data, 'train'), path.join(data, 'test')];
    const sources = { train: `${train} holds no readable image`, test: `${test} holds no readable image` };
    return { name: path.basename(data), ...pair(imageFolder(train, options), imageFolder(test, options)), sources };
  }
  if (existsSync(path.join(data, 'index.csv'))) {
    const all = ckplus48(data, { ...options, lastFrame: choice.lastFrame });
    const { train, test } = subjectSplit(all.samples, choice.folds ?? 10, choice.fold ?? 0);
    const fold = `fold ${choice.fold ?? 0} of ${choice.folds ?? 10}`;
    const sources = { train: `${path.join(data, 'index.csv')} has no subject outside ${fold}`, test: `${path.join(data, 'index.csv')} has no subject in ${fold}` };
    return { name: `${path.basename(data)} fold ${choice.fold ?? 0}/${choice.folds ?? 10}`, train, test, classNames: all.classNames, skipped: all.skipped, sources };
  }
  // Before the plain image folder, which would take FER2013Train/... or EmoLabel/ and Image/ for classes.
  if (FERPLUS_FOLDERS.some((folder) => existsSync(path.join(data, folder)))) return ferPlusRelease(data, options);
  if (RAFDB_LISTS.some((list) => existsSync(path.join(data, list)))) return rafDbRelease(data, options);
  const all = imageFolder(data, options);
  const { train, test } = stratifiedSplit(all.samples, 0.2, seed);
  const sources = {
    train: `${data} has ${all.samples.length} readable image(s), all in the 20% of each class held out for testing`,
    test: `${data} has too few readable images per class for a 20% test split (${all.samples.length} in all)`,
  };
  return { name: path.basename(data), train, test, classNames: all.classNames, skipped: all.skipped, sources };
}

/** FERPlus's release folders: the three splits of FER2013, each its PNGs and a label.csv. */
const FERPLUS_FOLDERS = ['FER2013Train', 'FER2013Valid', 'FER2013Test'];

/**
 * FERPlus's own splits: FER2013Train (FER2013's Training rows) for training, FER2013Test (PrivateTest)
 * for evaluation. FER2013Valid (PublicTest) is not read: FERPlus's reference code uses it to choose the
 * epoch, which train does not do (it evaluates on the test split). Labels by ferPlus's majority rule.
 */
function ferPlusRelease(data: string, options: ImageOptions): ResolvedData {
  const [train, test] = ['FER2013Train', 'FER2013Test'].map((folder) => {
    const [images, labels] = [path.join(data, folder), path.join(data, folder, 'label.csv')];
    const missing = [images, labels].find((p) => !existsSync(p));
    if (missing) {
      throw new Error(`--data ${data} looks like FERPlus (it has ${FERPLUS_FOLDERS.filter((f) => existsSync(path.join(data, f))).join(', ')}) ` +
        `but has no ${missing}; expected ${FERPLUS_FOLDERS.join(', ')} folders, each with its PNGs and a label.csv`);
    }
    return { loaded: ferPlus(labels, images, options), labels };
  });
  const noFace = (labels: string) => `${labels} gives no face a majority label`;
  const sources = { train: noFace(train.labels), test: noFace(test.labels) };
  return { name: `${path.basename(data)} (FERPlus, majority labels)`, ...pair(train.loaded, test.loaded), sources };
}

/** Where RAF-DB's label list may lie (rafDb's own candidates; "patition" is RAF-DB's spelling). */
const RAFDB_LISTS = ['EmoLabel/list_patition_label.txt', 'list_patition_label.txt'];

/** RAF-DB basic's own split: the list's train_* images for training, its test_* images for evaluation. */
function rafDbRelease(data: string, options: ImageOptions): ResolvedData {
  const list = RAFDB_LISTS.map((p) => path.join(data, p)).find((p) => existsSync(p))!;
  const train = rafDb(data, { ...options, split: 'train' });
  const test = rafDb(data, { ...options, split: 'test' });
  const sources = { train: `${list} lists no readable train image`, test: `${list} lists no readable test image` };
  return { name: `${path.basename(data)} (RAF-DB)`, ...pair(train, test), sources };
}

function pair(train: LoadedDataset, test: LoadedDataset) {
  if (train.classNames.join() !== test.classNames.join()) {
    throw new Error(`train classes [${train.classNames}] differ from test classes [${test.classNames}]`);
  }
  return { train: train.samples, test: test.samples, classNames: train.classNames, skipped: [...train.skipped, ...test.skipped] };
}

/** Per class, a seeded `fraction` of the samples for testing. */
function stratifiedSplit(samples: readonly Sample[], fraction: number, seed: number) {
  const g = new Generator(seed);
  const train: Sample[] = [];
  const test: Sample[] = [];
  const labels = [...new Set(samples.map((s) => s.label))].sort((a, b) => a - b);
  for (const label of labels) {
    const members = g.shuffle(samples.filter((s) => s.label === label));
    const cut = Math.round(members.length * fraction);
    test.push(...members.slice(0, cut));
    train.push(...members.slice(cut));
  }
  return { train, test };
}
