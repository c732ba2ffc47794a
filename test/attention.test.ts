// scaledDotProductAttention against the float64 reference (test/reference/attention.ts) over shapes
// that reach every branch: batch 1, one head, a single key, L != S, E != Ev, grouped-query heads,
// causal with L < S and L > S, broadcast float masks (strided and copied), fully masked rows,
// E = 80 and 128, and dispatches past 65,535 workgroups; then finite-difference gradients. Bool masks
// on the same broadcast shapes, and dropout against the reference's own implementation of the hash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, gradCheck, markedBlock, randomData, run } from './helpers/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { timeKernels } from '../src/engine/recorder.js';
import {
  scaledDotProductAttention,
  ATTENTION_KERNELS,
  attentionVariant,
  setAttentionVariant,
  type AttentionVariant,
  type AttentionOptions,
} from '../src/kernels/attention/index.js';
import { sharedLoadsRun } from '../src/kernels/subgroups.js';
import { cpuAdapter, gpu } from '../src/engine/device.js';
import { Generator, defaultGenerator, manualSeed } from '../src/engine/random.js';
import { attentionReference, dropoutKeeps, type AttentionCase } from './reference/attention.js';

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

// Both variants where the adapter runs both (the shared kernels need subgroups of 8 lanes: refused
// elsewhere, see the test of that refusal).
const variants: AttentionVariant[] = sharedLoadsRun() ? ['plain', 'tiled', 'shared'] : ['plain', 'tiled'];

/** Runs `fn` under each variant, having seen that a forward and backward under it dispatch that
 *  variant's kernels. */
async function forEachVariant(fn: (variant: AttentionVariant) => Promise<void>): Promise<void> {
  try {
    for (const variant of variants) {
      setAttentionVariant(variant);
      const t = tensor(new Float32Array(16), [1, 1, 1, 16], { requiresGrad: true });
      const ran = ((await timeKernels(() => tidy(() => scaledDotProductAttention(t, t, t).backward(tensor(new Float32Array(16), [1, 1, 1, 16]))))) ?? []).map((d) => d.label);
      t.grad!.dispose();
      t.dispose();
      const suffix = variant === 'plain' ? '' : `_${variant}`;
      for (const kernel of ['attention_forward', 'attention_backward_query', 'attention_backward_key']) {
        assert.ok(ran.includes(kernel + suffix), `${variant}: ${kernel + suffix} dispatched (${ran.join(', ')})`);
      }
      await fn(variant);
    }
  } finally {
    setAttentionVariant(null);
  }
}

const measured: string[] = [];

test('scaledDotProductAttention matches the float64 reference', async () => {
  await forEachVariant(async (variant) => {
  for (const [i, c] of cases.entries()) {
    const { q, k, v, mask } = caseData(c, 10 * i + 1);
    const got = await run(() =>
      scaledDotProductAttention(tensor(f32(q), c.qShape), tensor(f32(k), c.kShape), tensor(f32(v), c.vShape), options(c, mask && tensor(f32(mask), c.maskShape))),
    );
    const expected = attentionReference(c, q, k, v, mask);
    assertClose(got, expected, `${variant}: ${c.name}`, { atol: 2e-6, rtol: 1e-4 });
    let worst = 0;
    for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j] - expected[j]));
    measured.push(`${c.name}: ${worst.toExponential(1)}`);
  }
  console.log(`attention forward (${variant}), max |error|: ${measured.join('; ')}`);
  measured.length = 0;
  });
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
    // Past one workgroup's 64 rows (and not a multiple of it) on both sides, for the shared kernels' blocks.
    { name: 'L = 70, S = 67, E != Ev', qShape: [1, 1, 70, 16], kShape: [1, 1, 67, 16], vShape: [1, 1, 67, 8] },
    { name: 'causal, L = 67 < S = 70, GQA', qShape: [1, 2, 67, 8], kShape: [1, 1, 70, 8], vShape: [1, 1, 70, 8], causal: true, enableGqa: true },
  ];
  await forEachVariant(async (variant) => {
  for (const [i, c] of gradCases.entries()) {
    const { q, k, v, mask } = caseData(c, 100 + 10 * i);
    const inputs = [
      { shape: c.qShape, data: q },
      { shape: c.kShape, data: k },
      { shape: c.vShape, data: v },
      ...(mask ? [{ shape: c.maskShape!, data: mask }] : []),
    ];
    await gradCheck(
      `attention (${variant}) ${c.name}`,
      inputs,
      (qt, kt, vt, mt) => scaledDotProductAttention(qt, kt, vt, options(c, mt)),
      (qd, kd, vd, md) => attentionReference(c, qd, kd, vd, md),
    );
  }
  });
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
  refuses(() => scaledDotProductAttention(q, k, k, { dropoutP: 1.5 }), /dropoutP must be in \[0, 1\], got 1.5/);
  refuses(() => scaledDotProductAttention(t([3, 16]), k, k), /of one rank/);
  for (const x of [q, k, mask]) x.dispose();
});

/** A bool mask for a case with a maskShape (about a third false; maskedRows all false) and the float
 *  mask it means (0 / -inf), for the reference. */
function boolMaskData(c: Case, seed: number) {
  const [rows, cols] = c.maskShape!.slice(-2);
  const keep = Array.from(randomData(size(c.maskShape!), seed, 0, 1), (u, i) => u > 0.35 && !(c.maskedRows ?? []).includes(Math.floor(i / cols) % rows));
  return { keep, asFloat: Float64Array.from(keep, (x) => (x ? 0 : -Infinity)) };
}

const boolMask = (keep: boolean[], shape: number[]) => tensor(keep, shape, { dtype: 'bool' });

test('a bool attnMask matches the reference with the float mask it means (broadcast shapes of the float tests)', async () => {
  await forEachVariant(async (variant) => {
  const maskCases = cases.filter((c) => c.maskShape && !c.name.includes('copied'));
  const errors: string[] = [];
  for (const [i, c] of maskCases.entries()) {
    const { q, k, v } = caseData(c, 200 + 10 * i);
    const { keep, asFloat } = boolMaskData(c, 205 + 10 * i);
    const got = await run(() =>
      scaledDotProductAttention(tensor(f32(q), c.qShape), tensor(f32(k), c.kShape), tensor(f32(v), c.vShape), options(c, boolMask(keep, c.maskShape!))),
    );
    const expected = attentionReference(c, q, k, v, asFloat);
    assertClose(got, expected, `${variant}: bool ${c.name}`, { atol: 2e-6, rtol: 1e-4 });
    let worst = 0;
    for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j] - expected[j]));
    errors.push(`${c.name}: ${worst.toExponential(1)}`);
  }
  console.log(`attention forward (${variant}), bool mask, max |error|: ${errors.join('; ')}`);
  });
});

test('a bool mask has no gradient; its fully masked rows are zeros with zero query gradient', async () => {
  const c = cases.find((x) => x.name === 'fully masked rows')!;
  const { q, k, v } = caseData(c, 13);
  const { keep } = boolMaskData(c, 14);
  const qt = tensor(f32(q), c.qShape, { requiresGrad: true });
  const kt = tensor(f32(k), c.kShape, { requiresGrad: true });
  const mt = boolMask(keep, c.maskShape!);
  const [out, gq, gk] = tidy(() => {
    const o = scaledDotProductAttention(qt, kt, tensor(f32(v), c.vShape), { attnMask: mt });
    o.backward(tensor(f32(randomData(o.size, 5)), o.shape));
    return [o, qt.grad!, kt.grad!];
  });
  assert.is(mt.grad, null, 'the bool mask gets no gradient');
  const [o, dq, dk] = await Promise.all([out.toArray(), gq.toArray(), gk.toArray()]);
  const [L, E] = c.qShape.slice(-2);
  const Ev = c.vShape.at(-1)!;
  assert.ok([...o, ...dq, ...dk].every((x) => Number.isFinite(x)), 'finite output and gradients');
  for (let row = 0; row < o.length / Ev; row++) {
    if (!c.maskedRows!.includes(row % L)) continue;
    const values = [...o.slice(row * Ev, (row + 1) * Ev), ...dq.slice(row * E, (row + 1) * E)];
    assert.ok(values.every((x) => x === 0), `masked row ${row}: output and query gradient are 0`);
  }
  for (const t of [out, gq, gk, qt, kt, mt]) t.dispose();
});

test('gradients wrt q, k, v with a bool mask (gradCheck)', async () => {
  const gradCases: Case[] = [
    { name: 'bool mask [L, S] broadcast over N, H', qShape: [2, 2, 3, 16], kShape: [2, 2, 4, 16], vShape: [2, 2, 4, 16], maskShape: [3, 4] },
    { name: 'bool mask [N, 1, 1, S], GQA', qShape: [2, 4, 3, 16], kShape: [2, 2, 5, 16], vShape: [2, 2, 5, 8], maskShape: [2, 1, 1, 5], enableGqa: true },
    { name: 'bool mask [N, H, L, 1]', qShape: [2, 2, 3, 16], kShape: [2, 2, 4, 16], vShape: [2, 2, 4, 16], maskShape: [2, 2, 3, 1] },
    { name: 'bool mask, fully masked row, S past a tile', qShape: [1, 2, 3, 16], kShape: [1, 2, 18, 16], vShape: [1, 2, 18, 16], maskShape: [1, 3, 18], maskedRows: [1] },
  ];
  await forEachVariant(async (variant) => {
  for (const [i, c] of gradCases.entries()) {
    const { q, k, v } = caseData(c, 300 + 10 * i);
    const { keep, asFloat } = boolMaskData(c, 305 + 10 * i);
    await gradCheck(
      `attention (${variant}) ${c.name}`,
      [
        { shape: c.qShape, data: q },
        { shape: c.kShape, data: k },
        { shape: c.vShape, data: v },
      ],
      (qt, kt, vt) => scaledDotProductAttention(qt, kt, vt, options(c, boolMask(keep, c.maskShape!))),
      (qd, kd, vd) => attentionReference(c, qd, kd, vd, asFloat),
    );
  }
  });
});

test('a bool mask that would need a copy (more than four merged batch dimensions) is refused', () => {
  const c = cases.find((x) => x.name === 'mask copied (5 merged batch dims)')!;
  const t = (shape: number[]) => tensor(new Float32Array(size(shape)), shape);
  const mask = boolMask(new Array(size(c.maskShape!)).fill(true), c.maskShape!);
  assert.throws(() => tidy(() => void scaledDotProductAttention(t(c.qShape), t(c.kShape), t(c.vShape), { attnMask: mask })), /bool attnMask .* more than 4 merged batch dimensions/);
  mask.dispose();
});

const dropoutCases: Case[] = [
  { name: 'p = 0.5, S past two key tiles', qShape: [2, 2, 9, 16], kShape: [2, 2, 37, 16], vShape: [2, 2, 37, 24] },
  { name: 'p = 0.1, GQA causal', qShape: [2, 4, 20, 16], kShape: [2, 2, 20, 16], vShape: [2, 2, 20, 8], causal: true, enableGqa: true },
  { name: 'p = 0.3, float mask with fully masked rows', qShape: [2, 2, 6, 16], kShape: [2, 2, 10, 16], vShape: [2, 2, 10, 16], maskShape: [6, 10], maskedRows: [1, 4] },
  { name: 'p = 0.7, bool mask [N, 1, L, S]', qShape: [2, 3, 6, 16], kShape: [2, 3, 10, 16], vShape: [2, 3, 10, 16], maskShape: [2, 1, 6, 10] },
  { name: 'p = 1: all dropped', qShape: [1, 2, 5, 16], kShape: [1, 2, 7, 16], vShape: [1, 2, 7, 16] },
];
const dropoutP = (c: Case) => Number(/p = ([\d.]+)/.exec(c.name)![1]);
const isBoolCase = (c: Case) => c.name.includes('bool');

/** The case's tensors and options for a dropout call with a generator seeded `generatorSeed`, and the
 *  reference case with the seed that generator gives first. */
function dropoutCall(c: Case, generatorSeed: number, data: ReturnType<typeof caseData>, keep?: boolean[]) {
  const p = dropoutP(c);
  const reference: Case = { ...c, dropout: { p, seed: new Generator(generatorSeed).nextUint32() } };
  const call = (qt: Tensor, kt: Tensor, vt: Tensor, mt?: Tensor) =>
    scaledDotProductAttention(qt, kt, vt, { ...options(c, keep ? boolMask(keep, c.maskShape!) : mt), dropoutP: p, generator: new Generator(generatorSeed) });
  return { reference, call };
}

test('dropout matches the reference, which regenerates the mask by its own implementation of the hash', async () => {
  await forEachVariant(async (variant) => {
  const errors: string[] = [];
  for (const [i, c] of dropoutCases.entries()) {
    const data = caseData(c, 400 + 10 * i);
    const bool = isBoolCase(c) ? boolMaskData(c, 405 + 10 * i) : undefined;
    const { reference, call } = dropoutCall(c, 1000 + i, data, bool?.keep);
    const got = await run(() => call(tensor(f32(data.q), c.qShape), tensor(f32(data.k), c.kShape), tensor(f32(data.v), c.vShape), data.mask && !bool ? tensor(f32(data.mask), c.maskShape) : undefined));
    const expected = attentionReference(reference, data.q, data.k, data.v, bool?.asFloat ?? data.mask);
    assertClose(got, expected, `${variant}: dropout ${c.name}`, { atol: 4e-6, rtol: 1e-4 });
    let worst = 0;
    for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j] - expected[j]));
    errors.push(`${c.name}: ${worst.toExponential(1)}`);
  }
  console.log(`attention forward (${variant}), dropout, max |error|: ${errors.join('; ')}`);
  });
});

test('dropout gradients wrt q, k, v and a float mask, the seed fixed (gradCheck)', async () => {
  const gradCases: Case[] = [
    { name: 'p = 0.4, E != Ev', qShape: [1, 2, 3, 16], kShape: [1, 2, 5, 16], vShape: [1, 2, 5, 8] },
    { name: 'p = 0.25, GQA causal L > S', qShape: [1, 4, 5, 16], kShape: [1, 2, 3, 16], vShape: [1, 2, 3, 16], causal: true, enableGqa: true },
    { name: 'p = 0.5, float mask [L, S], S past a tile', qShape: [2, 1, 3, 16], kShape: [2, 1, 18, 16], vShape: [2, 1, 18, 16], maskShape: [3, 18] },
    { name: 'p = 0.3, bool mask [1, L, S] with a fully masked row', qShape: [1, 2, 3, 16], kShape: [1, 2, 4, 16], vShape: [1, 2, 4, 16], maskShape: [1, 3, 4], maskedRows: [2] },
  ];
  await forEachVariant(async (variant) => {
  for (const [i, c] of gradCases.entries()) {
    const data = caseData(c, 500 + 10 * i);
    const bool = isBoolCase(c) ? boolMaskData(c, 505 + 10 * i) : undefined;
    const { reference, call } = dropoutCall(c, 2000 + i, data, bool?.keep);
    const inputs = [
      { shape: c.qShape, data: data.q },
      { shape: c.kShape, data: data.k },
      { shape: c.vShape, data: data.v },
      ...(data.mask && !bool ? [{ shape: c.maskShape!, data: data.mask }] : []),
    ];
    await gradCheck(`attention (${variant}) dropout ${c.name}`, inputs, call, (qd, kd, vd, md) => attentionReference(reference, qd, kd, vd, bool?.asFloat ?? md));
  }
  });
});

test('dropoutP = 0 is exactly no dropout and draws no seed', async () => {
  const c = dropoutCases[0];
  const { q, k, v } = caseData(c, 9);
  const generator = new Generator(3);
  const state = generator.getState();
  const inputs = () => [tensor(f32(q), c.qShape), tensor(f32(k), c.kShape), tensor(f32(v), c.vShape)] as const;
  const plain = await run(() => scaledDotProductAttention(...inputs()));
  const zero = await run(() => scaledDotProductAttention(...inputs(), { dropoutP: 0, generator }));
  assert.equal([...zero], [...plain], 'identical outputs');
  assert.equal(generator.getState(), state, 'the generator did not advance');
});

test('dropout keeps a fraction 1 - p of the probabilities; same seeds agree, different seeds differ', async () => {
  // q = 0 makes every probability 1 / S and v = 1 makes out[r] = (kept keys of row r) / (S (1 - p)).
  const [B, L, S] = [16, 64, 512];
  const ones = (shape: number[]) => tensor(new Float32Array(size(shape)).fill(1), shape);
  const zeros = (shape: number[]) => tensor(new Float32Array(size(shape)), shape);
  const attend = (p: number, generator?: Generator) => run(() => scaledDotProductAttention(zeros([B, L, 16]), zeros([B, S, 16]), ones([B, S, 1]), { dropoutP: p, generator }));
  for (const p of [0.1, 0.5, 0.9]) {
    const out = await attend(p, new Generator(7));
    const kept = out.reduce((a, x) => a + x, 0) * S * (1 - p);
    const n = B * L * S;
    const deviations = (kept / n - (1 - p)) / Math.sqrt((p * (1 - p)) / n);
    console.log(`dropout p = ${p}: kept fraction ${(kept / n).toFixed(5)} over ${n} scores (${deviations.toFixed(2)} standard deviations from ${1 - p})`);
    assert.ok(Math.abs(deviations) < 5, `p = ${p}: kept fraction ${kept / n} within 5 standard deviations of ${1 - p}`);
    // Each row's kept count is a whole number: out * S * (1 - p) is an integer up to rounding.
    const worstRow = Math.max(...Array.from(out, (x) => Math.abs(x * S * (1 - p) - Math.round(x * S * (1 - p)))));
    // f32 sums of ~500 terms: a few ulps of 512 off, far from the 0.5 that would mean a wrong count.
    assert.ok(worstRow < 0.05, `p = ${p}: whole kept counts per row (off by ${worstRow})`);
  }
  const first = await attend(0.5, new Generator(11));
  const again = await attend(0.5, new Generator(11));
  const other = await attend(0.5, new Generator(12));
  assert.equal([...again], [...first], 'the same seed gives the same dropout');
  assert.ok(first.some((x, i) => x !== other[i]), 'another seed gives another dropout');
  // One generator, two calls: two seeds, two masks.
  const shared = new Generator(11);
  const [one, two] = [await attend(0.5, shared), await attend(0.5, shared)];
  assert.equal([...one], [...first], 'the first call draws the seed new Generator(11) gives first');
  assert.ok(one.some((x, i) => x !== two[i]), 'the next call draws the next seed');
  // Without a generator the seed comes from the default one (its state put back for the tests after).
  const defaultState = defaultGenerator.getState();
  manualSeed(11);
  const fromDefault = await attend(0.5);
  defaultGenerator.setState(defaultState);
  assert.equal([...fromDefault], [...first], 'the default generator, seeded 11, gives the same dropout');
  // Mask decisions spread over heads, rows and columns (the reference's hash, spot-checked).
  const seed = new Generator(11).nextUint32();
  let keptColumns = 0;
  for (let s = 0; s < S; s++) keptColumns += Number(dropoutKeeps(seed, 0.5, 3, 5, s));
  assert.ok(Math.abs(keptColumns - S / 2) < 5 * Math.sqrt(S / 4), `one row keeps about half its ${S} columns (${keptColumns})`);
});

test('the shared forward runs where subgroups have 8 lanes and is refused, naming the fix, where they do not', () => {
  assert.is(attentionVariant(), sharedLoadsRun() ? 'shared' : cpuAdapter(gpu().adapter) ? 'plain' : 'tiled');
  assert.throws(() => setAttentionVariant('shared', 4), /subgroups of as few as 4 lanes.*force 'tiled'/);
  assert.throws(() => setAttentionVariant('shared', 0), /no subgroups.*force 'tiled'/);
  assert.throws(() => setAttentionVariant('blocked' as AttentionVariant), /expected 'plain', 'tiled', 'shared' or null/);
  setAttentionVariant('tiled', 4);
  assert.is(attentionVariant(), 'tiled');
  setAttentionVariant(null);
});

// The nine kernels that score q against k regenerate one dropout mask and read one mask layout: their
// copies of those rules (between marked lines: WGSL has no imports) must not drift.
test('the dropout and mask rules are identical in every attention shader that scores q against k', () => {
  const reference = markedBlock(ATTENTION_KERNELS[0].source, 'attention-rules');
  assert.ok(reference, `${ATTENTION_KERNELS[0].name} carries <attention-rules>`);
  assert.is(ATTENTION_KERNELS.length, 9, 'forward, dQ and dK / dV of three variants');
  for (const kernel of ATTENTION_KERNELS) assert.fixture(markedBlock(kernel.source, 'attention-rules') ?? `<missing in ${kernel.name}>`, reference!);
});

test.run();
