/**
 * Prediction on image files with FERAtt: class probabilities, and a PNG per image showing what the model
 * attends to: the input, the attention map sigmoid(g_att) laid over it (viridis on a fixed [0, 1] scale,
 * with its colour bar, so that maps of different images compare; as the demo page shows it), the input
 * weighted by that map, and the reconstruction `att` that the classifier sees (the official "attended face").
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
  const panel = w * scale + 20;
  const canvas = new Canvas(Math.max(4 * panel + 80, 560), h * scale + 110 + 14 * classNames.length);
  canvas.text(10, 8, 'input');
  canvas.image(10, 24, face, h, w, scale, [0, 1]);
  canvas.text(10 + panel, 8, 'attention over the face');
  canvas.overlay(10 + panel, 24, face, h, w, scale, map, h, w, [0, 1], 0.6);
  canvas.text(10 + 2 * panel, 8, 'input x attention');
  canvas.image(10 + 2 * panel, 24, face.map((v, j) => v * map[j]), h, w, scale, [0, 1]);
  // The reconstruction stretched to its own range (it is not bound to [0, 1]).
  canvas.text(10 + 3 * panel, 8, 'reconstruction');
  canvas.image(10 + 3 * panel, 24, reconstruction, h, w, scale);
  canvas.colorBar(10 + 4 * panel, 24, h * scale, [0, 1], 'attention');
  canvas.text(10, 24 + h * scale + 8, 'attention: sigmoid of the attention logits, 0 to 1; yellow attended');
  drawProbabilities(canvas, 50 + h * scale, probs, classNames);
  if (channels > 1) canvas.text(10, canvas.height - 12, 'first channel shown');
  return canvas.encode();
}
