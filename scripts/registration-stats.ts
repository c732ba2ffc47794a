// What PCNN's registration gives layer4, measured on a model's checkpoint and a CK+48-style folder (each
// sequence's last frame): the root mean square of x11 against x1's (x11 ≈ 0 is the spatial
// transformer's collapse: ../shared/notes/pcnn-reference-behaviour.md), and for the spatial transformer
// how far theta is from the identity (mean |theta - I|) and the fraction of its grid inside the map;
// for the cross-attention, the entropy of its weights relative to uniform (1 = reads every position alike).
// node scripts/run.mjs scripts/registration-stats.ts CHECKPOINT.safetensors CKPLUS_FOLDER
import { init } from '../src/engine/device.js';
import { noGrad } from '../src/engine/autograd.js';
import { tidy, keep } from '../src/engine/scope.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { mean, mul } from '../src/index.js';
import { loadCheckpoint } from '../src/fer/checkpoint.js';
import { PCNN } from '../src/pcnn/model.js';
import { ckplus48, evalTransform } from '../src/fer/data/index.js';

const [file, folder] = process.argv.slice(2);
if (!file || !folder) throw new Error('usage: registration-stats.ts CHECKPOINT.safetensors CKPLUS_FOLDER');
await init();
const saved = await loadCheckpoint<{ config: ConstructorParameters<typeof PCNN>[0] }>(file);
if (!saved.meta) throw new Error(`${file}: not one of our checkpoints (no metadata)`);
const model = new PCNN(saved.meta.config);
model.loadStateDict(saved.model);
model.eval();
const { inputSize, inChannels } = model.config;
const shape = [inChannels, inputSize[0], inputSize[1]] as const;
const { samples } = ckplus48(folder, { lastFrame: true });
const x = new Float32Array(samples.length * shape[0] * shape[1] * shape[2]);
samples.forEach((s, i) => x.set(evalTransform(s.image, shape), i * x.length / samples.length));
const outputs = noGrad(() =>
  tidy(() => {
    const d = model.forwardDetailed(tensor(x, [samples.length, ...shape]), { attentionWeights: true });
    return [mean(mul(d.x11, d.x11)), mean(mul(d.global, d.global)), d.theta ?? tensor([0], [1]), d.registrationWeights ?? tensor([0], [1])].map((t: Tensor) => keep(t));
  }),
);
const [x11, x1, theta, weights] = await Promise.all(outputs.map((t) => t.toArray()));
const line = [`${file}: ${samples.length} images, registration ${model.config.registration}`, `rms(x11) / rms(x1) = ${Math.sqrt(x11[0] / x1[0]).toFixed(3)}`];
if (model.config.registration === 'stn') {
  const identity = [1, 0, 0, 0, 1, 0];
  const offIdentity = theta.reduce((sum, v, i) => sum + Math.abs(v - identity[i % 6]), 0) / theta.length;
  // The grid's corners (±1, ±1) mapped by theta: inside [-1, 1]² or not.
  let inside = 0;
  let corners = 0;
  for (let n = 0; n < theta.length / 6; n++) {
    const t = theta.subarray(6 * n, 6 * n + 6);
    for (const [u, v] of [[-1, -1], [-1, 1], [1, -1], [1, 1]]) {
      const [gx, gy] = [t[0] * u + t[1] * v + t[2], t[3] * u + t[4] * v + t[5]];
      corners++;
      if (Math.abs(gx) <= 1 && Math.abs(gy) <= 1) inside++;
    }
  }
  line.push(`mean |theta - I| = ${offIdentity.toFixed(3)}`, `grid corners inside the map ${((100 * inside) / corners).toFixed(1)}%`);
} else {
  const positions = Math.round(Math.sqrt(weights.length / samples.length));
  let entropy = 0;
  for (let row = 0; row < weights.length / positions; row++) {
    for (let s = 0; s < positions; s++) {
      const w = weights[row * positions + s];
      if (w > 0) entropy -= w * Math.log(w);
    }
  }
  line.push(`attention entropy / log(positions) = ${(entropy / (weights.length / positions) / Math.log(positions)).toFixed(3)}`);
}
console.log(line.join('; '));
outputs.forEach((t) => t.dispose());
model.dispose();
process.exit(0);
