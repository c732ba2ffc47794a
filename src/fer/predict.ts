/**
 * What every model's `predict` shares: reading the image files into a batch as evaluation sees them, the
 * PNG paths, and the drawing of class probabilities.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Generator } from '../engine/random.js';
import { prepareImage, type Transform } from './data/index.js';
import type { Canvas } from './plot.js';

export interface Prediction {
  file: string;
  probabilities: number[];
  png: string;
}

/** The bytes of an image file; a folder or an unreadable path is an error naming it (readFileSync's
 *  EISDIR does not say which path). */
function readImageFile(file: string): Buffer {
  let isFolder: boolean;
  try {
    isFolder = statSync(file).isDirectory();
  } catch (error) {
    throw new Error(`predict: cannot read ${file}: ${(error as Error).message}`);
  }
  if (isFolder) throw new Error(`predict: ${file} is a folder; give the image files in it`);
  return readFileSync(file);
}

/**
 * The PNG written for each input: `<out>/<base name>.prediction.png`. Inputs whose base names coincide
 * (a/face.png and b/face.png, or the same file twice) would overwrite one another's PNG, so each later
 * one gets the first free suffix, in the order given: face.prediction.png, face-2.prediction.png, ...
 * Names are compared ignoring case, since Face.png and face.png are one file on case-insensitive file
 * systems. Each Prediction's `png` says which file is whose.
 */
export function predictionPaths(files: readonly string[], out: string): string[] {
  const taken = new Set<string>();
  return files.map((file) => {
    const base = path.basename(file).replace(/\.[^.]+$/, '');
    let name = base;
    for (let copy = 2; taken.has(name.toLowerCase()); copy++) name = `${base}-${copy}`;
    taken.add(name.toLowerCase());
    return path.join(out, `${name}.prediction.png`);
  });
}

/** The images of `files` as decoded (for display) and as the model's input batch `x` (`transform`'d:
 *  the family's evaluation transform), with the PNG path of each. */
export function predictionInputs(files: string[], shape: readonly [number, number, number], transform: Transform, out: string): { images: Float32Array[]; x: Float32Array; pngs: string[] } {
  const [c, h, w] = shape;
  const images = files.map((file) => prepareImage(readImageFile(file), file, c, [h, w]));
  const x = new Float32Array(files.length * c * h * w);
  const unused = new Generator(0); // evaluation transforms draw nothing
  images.forEach((img, i) => x.set(transform(img, shape, unused), i * img.length));
  return { images, x, pngs: predictionPaths(files, out) };
}

/** The predicted class in large type at `top`, then a bar per class. */
export function drawProbabilities(canvas: Canvas, top: number, probs: number[], classNames: string[]): void {
  const best = probs.indexOf(Math.max(...probs));
  canvas.text(10, top, `prediction: ${classNames[best]} ${(100 * probs[best]).toFixed(1)}%`, [0, 0, 0], 2);
  probs.forEach((prob, k) => {
    const y = top + 24 + k * 14;
    canvas.text(10, y, classNames[k].slice(0, 10));
    canvas.rect(80, y, Math.round(300 * prob), 9, k === best ? [214, 39, 40] : [31, 119, 180]);
    canvas.text(390, y, `${(100 * prob).toFixed(1)}%`);
  });
}
