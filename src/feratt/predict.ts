/**
 * Prediction on image files with FERAtt: class probabilities, and a PNG per image showing what the model
 * attends to: the input, the attention map sigmoid(g_att) (0 black, 1 white, on a fixed scale, so that
 * maps of different images compare), the input weighted by that map, and the reconstruction `att` that
 * the classifier sees (the official "attended face").
 */
import { noGrad } from '../engine/autograd.js';
import { tidy, keep } from '../engine/scope.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { sigmoid } from '../kernels/elementwise/index.js';
import { softmax } from '../kernels/softmax/index.js';
import { writeFileAtomic } from '../engine/io/atomic-file.js';
import { drawProbabilities, predictionInputs, type Prediction } from '../fer/predict.js';
import { Canvas } from '../fer/plot.js';
import type { FERAtt } from './model.js';

export async function predictFERAttImages(model: FERAtt, files: string[], classNames: string[], out: string): Promise<Prediction[]> {
  const { inChannels, inputSize } = model.config;
  const [h, w] = inputSize;
  // The official input is the image itself (/ 255), not normalised.
  const { images, x, pngs } = predictionInputs(files, [inChannels, h, w], (image) => image, out);
  const outputs = noGrad(() =>
    tidy(() => {
      const { logits, attention, attended } = model.forward(tensor(x, [files.length, inChannels, h, w]));
      return [softmax(logits, 1), sigmoid(attention), attended].map((t) => keep(t));
    }),
  );
  const [p, maps, faces] = await Promise.all(outputs.map((t: Tensor) => t.toArray()));
  outputs.forEach((t) => t.dispose());
  const k = classNames.length;
  const plane = h * w;
  return files.map((file, i) => {
    const probs = Array.from(p.subarray(i * k, (i + 1) * k));
    const map = maps.subarray(i * plane, (i + 1) * plane);
    // The first channel (gray, or red) of the input and of the reconstruction, for display.
    const face = images[i].subarray(0, plane);
    const reconstruction = faces.subarray(i * inChannels * plane, i * inChannels * plane + plane);
    writeFileAtomic(pngs[i], drawPrediction(face, map, reconstruction, [h, w], probs, classNames, inChannels));
    return { file, probabilities: probs, png: pngs[i] };
  });
}

function drawPrediction(face: Float32Array, map: Float32Array, reconstruction: Float32Array, [h, w]: readonly [number, number], probs: number[], classNames: string[], channels: number): Buffer {
  const scale = Math.max(1, Math.floor(160 / Math.max(h, w)));
  const panels: [string, ArrayLike<number>, boolean][] = [
    ['input', face, false],
    ['attention map', map, true],
    ['input x attention', face.map((v, j) => v * map[j]), false],
    ['reconstruction', reconstruction, false],
  ];
  const canvas = new Canvas(Math.max(panels.length * (w * scale + 20) + 10, 460), h * scale + 90 + 14 * classNames.length);
  panels.forEach(([title, values, fixedRange], j) => {
    const left = 10 + j * (w * scale + 20);
    canvas.text(left, 8, title);
    // The map on [0, 1] itself; the images stretched to their own range, as the other pictures are.
    canvas.image(left, 24, values, h, w, scale, fixedRange ? [0, 1] : undefined);
  });
  drawProbabilities(canvas, 40 + h * scale, probs, classNames);
  if (channels > 1) canvas.text(10, canvas.height - 12, 'first channel shown');
  return canvas.encode();
}
