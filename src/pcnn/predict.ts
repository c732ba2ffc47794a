/**
 * Prediction on image files: class probabilities, and a PNG per image showing what PCNN looks at, as the
 * demo page shows it: the input with its five crops outlined (the colour key names them), the
 * reassembled local map x10 and its registration x11 (channel means) laid over the face on one viridis
 * scale with its colour bar, the probabilities, and each sense head's prediction beside the main head's.
 * With registration by cross-attention, also its attention: for three of x1's positions (top, middle and
 * bottom of the centre column: eyes, nose, mouth), the weights over x10's positions laid over the face.
 */
import { noGrad } from '../engine/autograd.js';
import { tidy, keep } from '../engine/scope.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { softmax } from '../kernels/softmax/index.js';
import { mean } from '../kernels/reduce/index.js';
import { flatten } from '../kernels/shape/index.js';
import { adaptiveAvgPool2d } from '../kernels/pool/index.js';
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
  const { outputs, registration } = noGrad(() =>
    tidy(() => {
      const internals = model.forwardDetailed(tensor(x, [files.length, inChannels, h, w]), { attentionWeights: true });
      // Channel means of the maps, and each sense head's own probabilities, for display.
      const heads = internals.localMaps.map((map, i) => softmax(model.senseHeads[i].forward(flatten(adaptiveAvgPool2d(map, [1, 1]))), 1));
      const shown = [softmax(internals.out, 1), mean(internals.x10, 1), mean(internals.x11, 1), softmax(internals.heads, 1), ...heads];
      const weights = internals.registrationWeights;
      return { outputs: shown.map((t) => keep(t)), registration: weights ? keep(weights) : null };
    }),
  );
  const [gh, gw] = outputs[1].shape.slice(1);
  const [weights, p, m10, m11, sum, ...heads] = await Promise.all([registration?.toArray() ?? null, ...outputs.map((t: Tensor) => t.toArray())]);
  outputs.forEach((t) => t.dispose());
  registration?.dispose();
  const positions = gh * gw;
  const attention = (i: number) => weights?.subarray(i * positions * positions, (i + 1) * positions * positions) ?? null;
  const k = classNames.length;
  const row = (a: Float32Array, i: number) => Array.from(a.subarray(i * k, (i + 1) * k));
  return files.map((file, i) => {
    const probs = row(p, i);
    const png = pngs[i];
    const headRows = [...heads.map((a, j) => ({ name: CROP_NAMES[j], probabilities: row(a, i) })), { name: 'sum of the five', probabilities: row(sum, i) }];
    const maps = { x10: m10.subarray(i * positions, (i + 1) * positions), x11: m11.subarray(i * positions, (i + 1) * positions), attention: attention(i) };
    writeFileAtomic(png, drawPrediction(images[i], shape, maps, [gh, gw], probs, classNames, headRows));
    return { file, probabilities: probs, png };
  });
}

/** The registration's attention weights [L, S] (x1's positions to x10's, row-major gh x gw each): for three
 *  query positions of the centre column, the weights over x10 on the face, the query's cell outlined. */
function drawAttention(canvas: Canvas, top: number, gray: Float32Array, [h, w]: [number, number], scale: number, weights: Float32Array, [gh, gw]: number[]): void {
  const [pw, ph] = [w * scale, h * scale];
  const positions = gh * gw;
  const column = Math.floor(gw / 2);
  const queries = [...new Set([0, Math.floor(gh / 2), gh - 1])].map((row) => ({ row, column }));
  const rowOf = ({ row, column }: { row: number; column: number }) => weights.subarray((row * gw + column) * positions, (row * gw + column + 1) * positions);
  // From 0 to the largest weight drawn (uniform attention, 1 / positions each, would be dark on a 0-1 scale).
  const top1 = Math.max(...queries.flatMap((q) => Array.from(rowOf(q))), 1e-6);
  canvas.text(10, top, 'registration attention: where x1 at the outlined cell reads x10');
  queries.forEach(({ row, column }, k) => {
    const left = 10 + k * (pw + 16);
    canvas.overlay(left, top + 16, gray, h, w, scale, rowOf({ row, column }), gh, gw, [0, top1]);
    const [x0, y0] = [left + (column * pw) / gw, top + 16 + (row * ph) / gh];
    const [x1, y1] = [x0 + pw / gw - 1, y0 + ph / gh - 1];
    for (const [a, b, c, d] of [[x0, y0, x1, y0], [x0, y1, x1, y1], [x0, y0, x0, y1], [x1, y0, x1, y1]]) canvas.line(a, b, c, d, [255, 255, 255]);
  });
  canvas.colorBar(10 + queries.length * (pw + 16), top + 16, ph, [0, top1], 'weight');
}

/** The crops of cropBoxes, in the order of the local trunks and sense heads. */
const CROP_NAMES = ['left eye', 'right eye', 'left cheek', 'right cheek', 'mouth'];

function drawPrediction(
  image: Float32Array,
  [c, h, w]: readonly [number, number, number],
  { x10, x11, attention }: { x10: Float32Array; x11: Float32Array; attention: Float32Array | null },
  [gh, gw]: number[],
  probs: number[],
  classNames: string[],
  heads: { name: string; probabilities: number[] }[],
): Buffer {
  const scale = Math.max(1, Math.floor(160 / Math.max(h, w)));
  const gray = image.subarray(0, h * w); // first channel (gray, or red) for display
  const [pw, ph] = [w * scale, h * scale];
  const gap = 16;
  const attentionRow = attention ? ph + 44 : 0;
  const headsTop = 24 + ph + 30 + attentionRow + 24 + 14 * classNames.length + 16;
  const canvas = new Canvas(Math.max(10 + 3 * (pw + gap) + 90, 640), headsTop + 14 * (heads.length + 2) + 16);
  canvas.text(10, 8, 'input and its crops');
  canvas.image(10, 24, gray, h, w, scale, [0, 1]);
  const boxes = Object.values(cropBoxes(h, w));
  boxes.forEach((box, k) => {
    const color = PALETTE[k];
    const [x0, y0] = [10 + box.left * scale, 24 + box.top * scale];
    const [x1, y1] = [x0 + box.width * scale - 1, y0 + box.height * scale - 1];
    // Dotted outlines, so that the face shows through them.
    for (let t = 0; t <= Math.max(x1 - x0, y1 - y0); t += 2) {
      if (x0 + t <= x1) [y0, y1].forEach((y) => canvas.pixel(x0 + t, y, color));
      if (y0 + t <= y1) [x0, x1].forEach((x) => canvas.pixel(x, y0 + t, color));
    }
  });
  // One range for both maps, so that their colours compare.
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of [...x10, ...x11]) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, lo + 0.5];
  const mapLeft = 10 + pw + gap;
  canvas.text(mapLeft, 8, "x10: crops' features");
  canvas.overlay(mapLeft, 24, gray, h, w, scale, x10, gh, gw, [lo, hi]);
  canvas.text(mapLeft + pw + gap, 8, 'x11: registered');
  canvas.overlay(mapLeft + pw + gap, 24, gray, h, w, scale, x11, gh, gw, [lo, hi]);
  canvas.colorBar(mapLeft + 2 * (pw + gap), 24, ph, [lo, hi], 'channel mean');
  canvas.text(10, 24 + ph + 8, `maps: channel means of x10 and x11 (${gh}x${gw}) over the face, one scale; yellow high`);
  if (attention) drawAttention(canvas, 24 + ph + 30, gray, [h, w], scale, attention, [gh, gw]);
  drawProbabilities(canvas, 24 + ph + 30 + attentionRow, probs, classNames);

  // Each head's prediction, the sense heads in their crop's colour.
  const best = probs.indexOf(Math.max(...probs));
  canvas.text(10, headsTop, 'head              predicts      confidence');
  const line = (y: number, name: string, p: number[], color: readonly [number, number, number] | null) => {
    const k = p.indexOf(Math.max(...p));
    if (color) canvas.rect(10, y, 8, 7, color);
    canvas.text(22, y, name);
    canvas.text(118, y, `${classNames[k]}${k === best ? '' : ' *'}`);
    canvas.text(202, y, `${(100 * p[k]).toFixed(1)}%`);
  };
  line(headsTop + 14, 'main head', probs, null);
  heads.forEach((head, j) => line(headsTop + 28 + 14 * j, head.name, head.probabilities, j < 5 ? PALETTE[j] : null));
  canvas.text(10, headsTop + 28 + 14 * heads.length + 2, '* differs from the main head');
  if (c > 1) canvas.text(330, headsTop, 'first channel shown');
  return canvas.encode();
}
