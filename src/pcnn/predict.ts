/**
 * Prediction on image files: class probabilities, and a PNG per image showing what PCNN looks at: the
 * input, its five crops, the reassembled local map x10, its registration x11 and the probabilities.
 */
import { noGrad } from '../engine/autograd.js';
import { tidy, keep } from '../engine/scope.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { softmax } from '../kernels/softmax/index.js';
import { mean } from '../kernels/reduce/index.js';
import { writeFileAtomic } from '../engine/io/atomic-file.js';
import { drawProbabilities, predictionInputs, type Prediction } from '../fer/predict.js';
import { evalTransform } from '../fer/data/index.js';
import { cropBoxes } from './geometry.js';
import { Canvas, PALETTE } from '../fer/plot.js';
import type { PCNN } from './model.js';

/** Class probabilities of the image `files`, and a PNG for each under `out` (see predictionPaths). */
export async function predictImages(model: PCNN, files: string[], classNames: string[], out: string): Promise<Prediction[]> {
  const { inChannels, inputSize } = model.config;
  const [h, w] = inputSize;
  const shape = [inChannels, h, w] as const;
  const { images, x, pngs } = predictionInputs(files, shape, (image, s) => evalTransform(image, s), out);
  const [probabilities, x10, x11] = noGrad(() =>
    tidy(() => {
      const internals = model.forwardDetailed(tensor(x, [files.length, inChannels, h, w]));
      // Channel means of the maps, for display.
      return [softmax(internals.out, 1), mean(internals.x10, 1), mean(internals.x11, 1)].map((t) => keep(t));
    }),
  );
  const [p, m10, m11] = await Promise.all([probabilities, x10, x11].map((t: Tensor) => t.toArray()));
  const [gh, gw] = x10.shape.slice(1);
  [probabilities, x10, x11].forEach((t) => t.dispose());
  const k = classNames.length;
  return files.map((file, i) => {
    const probs = Array.from(p.subarray(i * k, (i + 1) * k));
    const png = pngs[i];
    writeFileAtomic(png, drawPrediction(images[i], shape, m10.subarray(i * gh * gw, (i + 1) * gh * gw), m11.subarray(i * gh * gw, (i + 1) * gh * gw), [gh, gw], probs, classNames));
    return { file, probabilities: probs, png };
  });
}

function drawPrediction(
  image: Float32Array,
  [c, h, w]: readonly [number, number, number],
  x10: Float32Array,
  x11: Float32Array,
  [gh, gw]: number[],
  probs: number[],
  classNames: string[],
): Buffer {
  const scale = Math.max(1, Math.floor(192 / Math.max(h, w)));
  const gray = image.subarray(0, h * w); // first channel (gray, or red) for display
  const canvas = new Canvas(Math.max(3 * w * scale + 60, 620), h * scale + 90 + 14 * classNames.length);
  canvas.text(10, 8, 'input and the five crops', [0, 0, 0], 1);
  canvas.image(10, 24, gray, h, w, scale);
  const boxes = Object.values(cropBoxes(h, w));
  boxes.forEach((box, k) => {
    const color = PALETTE[k];
    const [x0, y0] = [10 + box.left * scale, 24 + box.top * scale];
    const [x1, y1] = [x0 + box.width * scale - 1, y0 + box.height * scale - 1];
    canvas.line(x0, y0, x1, y0, color);
    canvas.line(x0, y1, x1, y1, color);
    canvas.line(x0, y0, x0, y1, color);
    canvas.line(x1, y0, x1, y1, color);
  });
  const mapScale = Math.max(1, Math.floor((h * scale) / Math.max(gh, gw)));
  const mapLeft = 30 + w * scale;
  canvas.text(mapLeft, 8, 'x10 local map');
  canvas.image(mapLeft, 24, x10, gh, gw, mapScale);
  canvas.text(mapLeft + gw * mapScale + 20, 8, 'x11 registered');
  canvas.image(mapLeft + gw * mapScale + 20, 24, x11, gh, gw, mapScale);
  drawProbabilities(canvas, 40 + h * scale, probs, classNames);
  if (c > 1) canvas.text(10, canvas.height - 12, 'first channel shown');
  return canvas.encode();
}
