// scaledDotProductAttention against the float64 reference (test/reference/attention.ts) over shapes
// that reach every branch: batch 1, one head, a single key, L != S, E != Ev, grouped-query heads,
// causal with L < S and L > S, broadcast float masks (strided and copied), fully masked rows,
// E = 80 and 128, and dispatches past 65,535 workgroups; then finite-difference gradients.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, randomData, run } from './helpers/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { scaledDotProductAttention, type AttentionOptions } from '../src/kernels/attention/index.js';
import { attentionReference, type AttentionCase } from './reference/attention.js';

const f32 = (x: ArrayLike<number>) => Float32Array.from(x);
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

interface Case extends AttentionCase {
  name: string;
  enableGqa?: boolean;
  /** Rows (indices over the mask's last-but-one dimension) set to -inf everywhere. */
  maskedRows?: number[];
}

function caseData(c: Case, seed: number) {
  const q = randomData(size(c.qShape), seed, -2, 2);
  const k = randomData(size(c.kShape), seed + 1, -2, 2);
  const v = randomData(size(c.vShape), seed + 2, -1, 1);
  let mask: Float64Array | undefined;
  if (c.maskShape) {
    mask = randomData(size(c.maskShape), seed + 3, -3, 3);
    const [rows, cols] = c.maskShape.slice(-2);
    for (const row of c.maskedRows ?? []) {
      for (let i = 0; i < mask.length; i++) if (Math.floor(i / cols) % rows === row) mask[i] = -Infinity;
    }
  }
  return { q, k, v, mask };
}

function options(c: Case, mask?: Tensor): AttentionOptions {
  return { attnMask: mask, isCausal: c.causal, scale: c.scale, enableGqa: c.enableGqa };
}

const cases: Case[] = [
  { name: 'batch 1, one head', qShape: [1, 1, 5, 16], kShape: [1, 1, 7, 16], vShape: [1, 1, 7, 16] },
  { name: 'single key', qShape: [2, 3, 4, 16], kShape: [2, 3, 1, 16], vShape: [2, 3, 1, 16] },
  { name: 'single query and key', qShape: [1, 1, 1, 16], kShape: [1, 1, 1, 16], vShape: [1, 1, 1, 32] },
  { name: 'L != S, E != Ev, S past two key tiles', qShape: [2, 2, 9, 32], kShape: [2, 2, 37, 32], vShape: [2, 2, 37, 64] },
  { name: 'GQA, 3 query heads per key head', qShape: [2, 6, 5, 16], kShape: [2, 2, 11, 16], vShape: [2, 2, 11, 24], enableGqa: true },
  { name: 'causal, L < S', qShape: [1, 2, 5, 16], kShape: [1, 2, 19, 16], vShape: [1, 2, 19, 16], causal: true },
  { name: 'causal, L > S', qShape: [1, 2, 19, 16], kShape: [1, 2, 5, 16], vShape: [1, 2, 5, 16], causal: true },
  { name: 'causal GQA, L = S', qShape: [2, 4, 20, 16], kShape: [2, 1, 20, 16], vShape: [2, 1, 20, 8], causal: true, enableGqa: true },
  { name: 'mask [L, S]', qShape: [2, 3, 6, 16], kShape: [2, 3, 10, 16], vShape: [2, 3, 10, 16], maskShape: [6, 10] },
  { name: 'mask [N, 1, L, S]', qShape: [2, 3, 6, 16], kShape: [2, 3, 10, 16], vShape: [2, 3, 10, 16], maskShape: [2, 1, 6, 10] },
  { name: 'mask [H, 1, S]', qShape: [2, 3, 6, 16], kShape: [2, 3, 10, 16], vShape: [2, 3, 10, 16], maskShape: [3, 1, 10] },
  { name: 'mask [N, H, L, 1]', qShape: [2, 3, 6, 16], kShape: [2, 3, 10, 16], vShape: [2, 3, 10, 16], maskShape: [2, 3, 6, 1] },
  { name: 'mask, 3 batch dims broadcast alternately', qShape: [2, 2, 3, 4, 16], kShape: [2, 2, 3, 9, 16], vShape: [2, 2, 3, 9, 16], maskShape: [2, 1, 3, 4, 9] },
  {
    name: 'mask copied (5 merged batch dims)',
    qShape: [2, 2, 2, 2, 2, 3, 16],
    kShape: [2, 2, 2, 2, 2, 5, 16],
    vShape: [2, 2, 2, 2, 2, 5, 16],
    maskShape: [2, 1, 2, 1, 2, 3, 5],
  },
  { name: 'fully masked rows', qShape: [2, 2, 6, 16], kShape: [2, 2, 10, 16], vShape: [2, 2, 10, 16], maskShape: [6, 10], maskedRows: [1, 4] },
  { name: 'E = 80, odd lengths', qShape: [1, 2, 17, 80], kShape: [1, 2, 33, 80], vShape: [1, 2, 33, 80] },
  { name: 'E = Ev = 128', qShape: [1, 1, 9, 128], kShape: [1, 1, 19, 128], vShape: [1, 1, 19, 128] },
  { name: 'E = 64, Ev = 128, mask', qShape: [1, 2, 7, 64], kShape: [1, 2, 18, 64], vShape: [1, 2, 18, 128], maskShape: [7, 18] },
  { name: '3-D (heads only)', qShape: [3, 5, 16], kShape: [3, 8, 16], vShape: [3, 8, 16] },
  { name: '2-D, custom scale', qShape: [5, 16], kShape: [8, 16], vShape: [8, 16], scale: 0.37 },
];

const measured: string[] = [];

test('scaledDotProductAttention matches the float64 reference', async () => {
  for (const [i, c] of cases.entries()) {
    const { q, k, v, mask } = caseData(c, 10 * i + 1);
    const got = await run(() =>
      scaledDotProductAttention(tensor(f32(q), c.qShape), tensor(f32(k), c.kShape), tensor(f32(v), c.vShape), options(c, mask && tensor(f32(mask), c.maskShape))),
    );
    const expected = attentionReference(c, q, k, v, mask);
    assertClose(got, expected, c.name, { atol: 2e-6, rtol: 1e-4 });
    let worst = 0;
    for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j] - expected[j]));
    measured.push(`${c.name}: ${worst.toExponential(1)}`);
  }
  console.log(`attention forward, max |error|: ${measured.join('; ')}`);
});

test('a fully masked row is zeros, with zero gradients (not NaN as in PyTorch)', async () => {
  const c = cases.find((x) => x.name === 'fully masked rows')!;
  const { q, k, v, mask } = caseData(c, 3);
  const qt = tensor(f32(q), c.qShape, { requiresGrad: true });
  const mt = tensor(f32(mask!), c.maskShape, { requiresGrad: true });
  const [out, gq, gm] = tidy(() => {
    const o = scaledDotProductAttention(qt, tensor(f32(k), c.kShape), tensor(f32(v), c.vShape), { attnMask: mt });
    o.backward(tensor(f32(randomData(o.size, 5)), o.shape));
    return [o, qt.grad!, mt.grad!];
  });
  const [o, dq, dm] = await Promise.all([out.toArray(), gq.toArray(), gm.toArray()]);
  const [L, E] = c.qShape.slice(-2);
  const Ev = c.vShape.at(-1)!;
  const S = c.kShape.at(-2)!;
  for (let row = 0; row < o.length / Ev; row++) {
    const masked = c.maskedRows!.includes(row % L);
    const values = [...o.slice(row * Ev, (row + 1) * Ev), ...dq.slice(row * E, (row + 1) * E)];
    assert.ok(values.every((x) => Number.isFinite(x)), `row ${row} is finite`);
    if (masked) assert.ok(values.every((x) => x === 0), `masked row ${row}: output and query gradient are 0`);
  }
  for (const row of c.maskedRows!) assert.ok(dm.slice(row * S, (row + 1) * S).every((x) => x === 0), `mask row ${row}: gradient 0`);
  for (const t of [out, gq, gm, qt, mt]) t.dispose();
});

test('scaledDotProductAttention gradients wrt q, k, v and the float mask (gradCheck)', async () => {
  const gradCases: Case[] = [
    { name: 'E != Ev', qShape: [1, 2, 3, 16], kShape: [1, 2, 4, 16], vShape: [1, 2, 4, 8] },
    { name: 'GQA, causal L > S', qShape: [1, 4, 5, 16], kShape: [1, 2, 3, 16], vShape: [1, 2, 3, 16], causal: true, enableGqa: true },
    { name: 'causal L < S, more keys than a tile', qShape: [1, 1, 3, 16], kShape: [1, 1, 18, 16], vShape: [1, 1, 18, 16], causal: true },
    { name: 'mask [L, S] broadcast over N, H', qShape: [2, 2, 3, 16], kShape: [2, 2, 4, 16], vShape: [2, 2, 4, 16], maskShape: [3, 4] },
    { name: 'mask [N, 1, 1, S]', qShape: [2, 2, 3, 16], kShape: [2, 2, 4, 16], vShape: [2, 2, 4, 16], maskShape: [2, 1, 1, 4] },
    { name: 'mask copied (5 merged batch dims)', qShape: [2, 1, 2, 1, 2, 2, 16], kShape: [2, 1, 2, 1, 2, 3, 16], vShape: [2, 1, 2, 1, 2, 3, 16], maskShape: [2, 1, 1, 1, 2, 2, 3] },
    { name: 'fully masked row', qShape: [1, 2, 3, 16], kShape: [1, 2, 4, 16], vShape: [1, 2, 4, 16], maskShape: [1, 3, 4], maskedRows: [1] },
    { name: 'E = 80', qShape: [1, 1, 3, 80], kShape: [1, 1, 5, 80], vShape: [1, 1, 5, 80] },
  ];
  for (const [i, c] of gradCases.entries()) {
    const { q, k, v, mask } = caseData(c, 100 + 10 * i);
    const inputs = [
      { shape: c.qShape, data: q },
      { shape: c.kShape, data: k },
      { shape: c.vShape, data: v },
      ...(mask ? [{ shape: c.maskShape!, data: mask }] : []),
    ];
    await gradCheck(
      `attention ${c.name}`,
      inputs,
      (qt, kt, vt, mt) => scaledDotProductAttention(qt, kt, vt, options(c, mt)),
      (qd, kd, vd, md) => attentionReference(c, qd, kd, vd, md),
    );
  }
});

test('dispatches past 65,535 workgroups fold into y (query rows and key rows)', async () => {
  // 64 rows per workgroup: 4,194,309 rows need 65,537 workgroups. E = Ev = 1 keeps it cheap.
  const rows = 65537 * 64 - 59;
  const manyQueries: Case = { name: 'many query rows', qShape: [rows, 1], kShape: [2, 1], vShape: [2, 1] };
  const { q, k, v } = caseData(manyQueries, 7);
  const qt = tensor(f32(q), manyQueries.qShape, { requiresGrad: true });
  const [out, gq] = tidy(() => {
    const o = scaledDotProductAttention(qt, tensor(f32(k), [2, 1]), tensor(f32(v), [2, 1]));
    o.backward(tensor(new Float32Array(rows).fill(1), o.shape));
    return [o, qt.grad!];
  });
  const [o, dq] = await Promise.all([out.toArray(), gq.toArray()]);
  assertClose(o, attentionReference(manyQueries, q, k, v), 'many query rows: output', { atol: 2e-6, rtol: 1e-4 });
  // d out / d q for two keys and dO = 1: dq = (v1 - v0) * p0 p1 * (k1 - k0) (scale 1 for E = 1).
  const expected = Float64Array.from(q, (x) => {
    const p1 = 1 / (1 + Math.exp(x * (k[0] - k[1])));
    return (v[1] - v[0]) * p1 * (1 - p1) * (k[1] - k[0]);
  });
  assertClose(dq, expected, 'many query rows: query gradient', { atol: 1e-6, rtol: 1e-4 });
  for (const t of [out, gq, qt]) t.dispose();

  // One query over as many keys, q = 0: every key weighs 1/S, so dV = dO / S and dK = 0.
  const keys = rows;
  const vt = tensor(f32(randomData(keys, 8)), [keys, 1], { requiresGrad: true });
  const kt = tensor(f32(randomData(keys, 9)), [keys, 1], { requiresGrad: true });
  const [gk, gv] = tidy(() => {
    scaledDotProductAttention(tensor([0], [1, 1]), kt, vt).backward(tensor([1], [1, 1]));
    return [kt.grad!, vt.grad!];
  });
  const [dk, dv] = await Promise.all([gk.toArray(), gv.toArray()]);
  assertClose(dv, new Float64Array(keys).fill(1 / keys), 'many key rows: value gradient', { atol: 1e-12, rtol: 1e-4 });
  // dK_s = scale * q * P_s (dP_s - D) = 0 since q = 0.
  assertClose(dk, new Float64Array(keys), 'many key rows: key gradient', { atol: 1e-12, rtol: 0 });
  for (const t of [gk, gv, kt, vt]) t.dispose();
});

test('scaledDotProductAttention refuses what it does not do, naming the shapes', () => {
  const t = (shape: number[]) => tensor(new Float32Array(size(shape)), shape);
  const q = t([1, 2, 3, 16]);
  const k = t([1, 2, 4, 16]);
  const mask = t([3, 4]);
  const refuses = (fn: () => unknown, pattern: RegExp) => assert.throws(() => tidy(() => void fn()), pattern);
  refuses(() => scaledDotProductAttention(q, k, k, { attnMask: mask, isCausal: true }), /attnMask and isCausal cannot both be set/);
  refuses(() => scaledDotProductAttention(t([1, 1, 3, 136]), t([1, 1, 4, 136]), t([1, 1, 4, 136])), /at most 128.*\[1,1,3,136\]/);
  refuses(() => scaledDotProductAttention(q, k, t([1, 2, 4, 129])), /Ev = 129 must be at most 128|at most 128/);
  refuses(() => scaledDotProductAttention(t([1, 4, 3, 16]), k, k), /query has 4 heads and key\/value 2; they must be equal unless enableGqa/);
  refuses(() => scaledDotProductAttention(t([1, 3, 3, 16]), k, k, { enableGqa: true }), /multiple of the key heads/);
  refuses(() => scaledDotProductAttention(q, t([1, 2, 4, 8]), k), /key must be \[\.\.\., S, E\]/);
  refuses(() => scaledDotProductAttention(q, k, k, { attnMask: t([2, 4]) }), /attnMask of shape \[2,4\] does not broadcast to the scores' shape \[1,2,3,4\]/);
  refuses(() => scaledDotProductAttention(q, k, k, { attnMask: tensor([1, 0, 1, 0], [1, 4], { dtype: 'int32' }) }), /attnMask.*must be a float32 tensor/);
  refuses(() => scaledDotProductAttention(q, k, k, { dropoutP: 0.1 }), /dropoutP 0.1 is not supported yet/);
  refuses(() => scaledDotProductAttention(t([3, 16]), k, k), /of one rank/);
  for (const x of [q, k, mask]) x.dispose();
});

test.run();
