// dropout / nn.Dropout: the mask against an independent host implementation of the kernel's hash, the
// kept fraction, the scaling, eval and p = 0 as the identity, p = 1 as zeros, the backward (the same mask
// on the gradient) by finite differences, and reproducibility from a seeded generator.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, markedBlock, randomData, run } from './helpers/index.js';
import { tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { Generator } from '../src/engine/random.js';
import { dropout } from '../src/kernels/elementwise/dropout.js';
import { Dropout } from '../src/nn/index.js';
import { pcg } from './reference/attention.js';
import dropoutSource from '../shaders/elementwise/dropout.wgsl';
import gatForwardSource from '../shaders/graph/gat_forward.wgsl';
import gatBackwardTargetsSource from '../shaders/graph/gat_backward_targets.wgsl';
import { ATTENTION_KERNELS } from '../src/kernels/attention/index.js';

/** The multiplier of each element (0 or 1 / (1 - p)) for a call that drew `seed`. */
function mask64(seed: number, n: number, p: number): Float64Array {
  const key = pcg(seed);
  const threshold = Math.round(p * 2 ** 24);
  return Float64Array.from({ length: n }, (_, i) => (pcg((key ^ pcg(i)) >>> 0) >>> 8 >= threshold ? 1 / (1 - p) : 0));
}

test('the mask is the hash of (seed, index); survivors are scaled by 1 / (1 - p)', async () => {
  for (const p of [0.1, 0.5, 0.9]) {
    const n = 1029;
    const x = randomData(n, 3);
    const seed = new Generator(7).nextUint32();
    const got = await run(() => dropout(tensor(Float32Array.from(x), [3, 343]), { p, generator: new Generator(7) }));
    const mask = mask64(seed, n, p);
    assertClose(got, x.map((v, i) => v * mask[i]), `dropout p ${p}`, { atol: 1e-6, rtol: 1e-6 });
  }
});

test('the kept fraction is 1 - p (within 5 standard deviations over 2^18 elements)', async () => {
  const n = 2 ** 18;
  for (const p of [0.2, 0.5, 0.75]) {
    const got = await run(() => dropout(tensor(new Float32Array(n).fill(1), [n]), { p, generator: new Generator(11) }));
    const kept = got.filter((v) => v !== 0).length / n;
    assert.ok(Math.abs(kept - (1 - p)) < 5 * Math.sqrt((p * (1 - p)) / n), `p ${p}: kept ${kept}`);
    assert.ok(got.every((v) => v === 0 || Math.abs(v - 1 / (1 - p)) < 1e-6), `p ${p}: survivors are 1 / (1 - p)`);
  }
});

test('eval and p = 0 return the input itself; p = 1 gives zeros; one seed, one mask', async () => {
  const x = tensor(Float32Array.from(randomData(10, 4)), [10]);
  assert.is(dropout(x, { p: 0.3, training: false }), x);
  assert.is(dropout(x, { p: 0 }), x);
  assert.equal(Array.from(await run(() => dropout(x, { p: 1 }))), new Array(10).fill(0));
  const a = await run(() => dropout(x, { generator: new Generator(5) }));
  const b = await run(() => dropout(x, { generator: new Generator(5) }));
  assert.equal(a, b);
  x.dispose();
});

test('backward: the gradient goes through the same mask (finite differences of the float64 reference)', async () => {
  const p = 0.4;
  const seed = new Generator(9).nextUint32();
  const mask = mask64(seed, 60, p);
  await gradCheck('dropout', [{ shape: [4, 15], data: randomData(60, 5) }], (x) => dropout(x, { p, generator: new Generator(9) }), (x) => x.map((v, i) => v * mask[i]));
});

test('nn.Dropout: the identity in eval mode, a new mask per training forward', async () => {
  const layer = new Dropout(0.5, new Generator(1));
  const x = tensor(new Float32Array(4096).fill(1), [4096]);
  const [first, second] = await Promise.all([run(() => layer.forward(x)), run(() => layer.forward(x))]);
  assert.not.equal(first, second);
  layer.eval();
  assert.is(layer.forward(x), x);
  tidy(() => undefined);
  x.dispose();
});

// Dropout, GATConv's attention dropout and SDPA's dropoutP hash their indices with one function, which the
// host reference restates (pcg): the shaders' copies of it (between marked lines) must not drift.
test('the PCG hash is identical in every hashed-dropout shader', () => {
  const sources = {
    'elementwise/dropout': dropoutSource, 'graph/gat_forward': gatForwardSource, 'graph/gat_backward_targets': gatBackwardTargetsSource,
    ...Object.fromEntries(ATTENTION_KERNELS.map((kernel) => [kernel.name, kernel.source])),
  };
  const reference = markedBlock(dropoutSource, 'pcg-hash');
  assert.ok(reference, 'dropout.wgsl carries <pcg-hash>');
  for (const [name, source] of Object.entries(sources)) assert.fixture(markedBlock(source, 'pcg-hash') ?? `<missing in ${name}>`, reference!);
});

test.run();
