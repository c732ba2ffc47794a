import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, assertCloseInNorm, gradCheck, randomData, run } from './helpers/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { Generator, manualSeed } from '../src/engine/random.js';
import { GATConv } from '../src/nn/gat.js';
import { attentionGraph, graphAttention, readEdgeIndex } from '../src/kernels/graph/index.js';
import { noGrad } from '../src/engine/autograd.js';
import { pool } from '../src/engine/pool.js';
import { gatReference, type GatReferenceOptions } from './reference/gat.js';
import fixture from './fixtures/gat.json';

interface Case {
  what: string;
  nodes: number;
  inChannels: number;
  heads: number;
  channels: number;
  concat: boolean;
  bias: boolean;
  addSelfLoops: boolean;
  negativeSlope?: number;
  sources: number[];
  targets: number[];
}

// Duplicate edges (1 -> 2 twice), existing self-loops (3 -> 3, 0 -> 0), an isolated node (5: no edges
// at all, so only its own self-loop, or nothing without self-loops) and a node with no incoming edges.
const sources = [0, 1, 1, 3, 2, 4, 0, 3, 0];
const targets = [1, 2, 2, 3, 0, 2, 0, 1, 4];

const cases: Case[] = [
  { what: 'one head, concat, bias', nodes: 6, inChannels: 5, heads: 1, channels: 4, concat: true, bias: true, addSelfLoops: true, sources, targets },
  { what: 'three heads, concat', nodes: 6, inChannels: 5, heads: 3, channels: 4, concat: true, bias: true, addSelfLoops: true, sources, targets },
  { what: 'three heads, averaged', nodes: 6, inChannels: 5, heads: 3, channels: 2, concat: false, bias: true, addSelfLoops: true, sources, targets },
  { what: 'no bias, no self-loops added (isolated nodes give 0)', nodes: 6, inChannels: 3, heads: 2, channels: 3, concat: true, bias: false, addSelfLoops: false, sources, targets },
  { what: 'negative slope 0.5, averaged, no bias', nodes: 6, inChannels: 4, heads: 3, channels: 5, concat: false, bias: false, addSelfLoops: true, negativeSlope: 0.5, sources, targets },
];

function options(c: Case): GatReferenceOptions {
  return { nodes: c.nodes, inChannels: c.inChannels, heads: c.heads, channels: c.channels, concat: c.concat, negativeSlope: c.negativeSlope ?? 0.2, addSelfLoops: c.addSelfLoops };
}

/** Random parameters for a case (bias non-zero, so that it is checked), as host data. */
function parameters(c: Case, seed: number) {
  const width = c.heads * c.channels;
  return {
    x: randomData(c.nodes * c.inChannels, seed),
    weight: randomData(width * c.inChannels, seed + 1),
    attSrc: randomData(width, seed + 2, -2, 2),
    attDst: randomData(width, seed + 3, -2, 2),
    bias: c.bias ? randomData(c.concat ? width : c.channels, seed + 4) : null,
  };
}

/** The leaves a gradient check varies: x, lin.weight, att_src, att_dst and the bias where there is one. */
function checkedInputs(c: Case, p: ReturnType<typeof parameters>) {
  return [
    { shape: [c.nodes, c.inChannels], data: p.x },
    { shape: [c.heads * c.channels, c.inChannels], data: p.weight },
    { shape: [1, c.heads, c.channels], data: p.attSrc },
    { shape: [1, c.heads, c.channels], data: p.attDst },
    ...(p.bias ? [{ shape: [p.bias.length], data: p.bias }] : []),
  ];
}

function layer(c: Case): GATConv {
  return new GATConv(c.inChannels, c.channels, { heads: c.heads, concat: c.concat, bias: c.bias, addSelfLoops: c.addSelfLoops, negativeSlope: c.negativeSlope ?? 0.2 });
}

function load(conv: GATConv, p: ReturnType<typeof parameters>): void {
  const dict: Record<string, { shape: number[]; data: Float64Array }> = {
    'lin.weight': { shape: conv.lin.weight.shape.slice(), data: p.weight },
    att_src: { shape: [1, conv.heads, conv.outChannels], data: p.attSrc },
    att_dst: { shape: [1, conv.heads, conv.outChannels], data: p.attDst },
  };
  if (p.bias) dict.bias = { shape: [p.bias.length], data: p.bias };
  conv.loadStateDict(dict);
}

test('GATConv: PyG parameter names, shapes and glorot initialisation', () => {
  manualSeed(3);
  const conv = new GATConv(7, 4, { heads: 3 });
  const shapes = Object.fromEntries(conv.namedParameters().map(([name, t]) => [name, t.shape]));
  assert.equal(shapes, { 'lin.weight': [12, 7], att_src: [1, 3, 4], att_dst: [1, 3, 4], bias: [12] });
  assert.equal(Object.keys(new GATConv(7, 4, { heads: 3, concat: false, bias: true }).stateDict()).sort(), ['att_dst', 'att_src', 'bias', 'lin.weight']);
  assert.equal(new GATConv(7, 4, { heads: 3, concat: false }).bias!.shape, [4]);
  assert.is(new GATConv(7, 4, { bias: false }).bias, null);
  conv.dispose();
});

test('GATConv: glorot bounds and zero bias', async () => {
  manualSeed(5);
  const conv = new GATConv(20, 6, { heads: 2 });
  const weight = await conv.lin.weight.toArray();
  const att = await conv.attSrc.toArray();
  const bound = (a: number, b: number) => Math.sqrt(6 / (a + b));
  assert.ok(weight.every((v) => Math.abs(v) <= bound(12, 20)) && Math.max(...weight.map(Math.abs)) > 0.8 * bound(12, 20), 'lin.weight within glorot bounds');
  assert.ok(att.every((v) => Math.abs(v) <= bound(2, 6)), 'att_src within glorot bounds');
  assert.ok((await conv.bias!.toArray()).every((v) => v === 0), 'bias is zero');
  conv.dispose();
});

for (const c of cases) {
  test(`GATConv forward against the float64 reference: ${c.what}`, async () => {
    const p = parameters(c, 11);
    const conv = layer(c);
    load(conv, p);
    const expected = gatReference(p.x, p.weight, p.attSrc, p.attDst, p.bias, c.sources, c.targets, options(c));
    const actual = await run(() => conv.forward(tensor(Float32Array.from(p.x), [c.nodes, c.inChannels]), [c.sources, c.targets]));
    assertClose(actual, expected, c.what, { atol: 1e-5, rtol: 1e-4 });
    // The flat Int32Array form [2, E] gives the same.
    const flat = await run(() => conv.forward(tensor(Float32Array.from(p.x), [c.nodes, c.inChannels]), Int32Array.from([...c.sources, ...c.targets])));
    assert.equal(flat, actual);
    conv.dispose();
  });
}

test('GATConv forward: isolated nodes without self-loops give 0 (+ bias), duplicate edges count twice', async () => {
  const c = { ...cases[3], bias: true };
  const p = parameters(c, 21);
  const conv = layer(c);
  load(conv, p);
  const out = await run(() => conv.forward(tensor(Float32Array.from(p.x), [c.nodes, c.inChannels]), [c.sources, c.targets]));
  const width = c.heads * c.channels;
  // Node 5 has no edges at all; node 3's only incoming edge is its own self-loop (kept without addSelfLoops).
  assertClose(out.subarray(5 * width, 6 * width), p.bias!, 'isolated node 5');
  const once = gatReference(p.x, p.weight, p.attSrc, p.attDst, p.bias, [0, 1, 3, 2, 4, 0, 3, 0], [1, 2, 3, 0, 2, 0, 1, 4], options(c));
  const twice = gatReference(p.x, p.weight, p.attSrc, p.attDst, p.bias, c.sources, c.targets, options(c));
  assert.ok(Math.abs(once[2 * width] - twice[2 * width]) > 1e-3, 'the duplicate edge changes node 2 in the reference');
  assertClose(out, twice, 'duplicates counted separately');
  conv.dispose();
});

for (const c of [cases[1], cases[2], cases[3]]) {
  test(`GATConv gradients (x, lin.weight, att_src, att_dst, bias) by finite differences: ${c.what}`, async () => {
    const p = parameters(c, 31);
    const conv = layer(c);
    const inputs = checkedInputs(c, p);
    await gradCheck(
      c.what,
      inputs,
      (x, weight, attSrc, attDst, bias) => {
        // The module's forward with its parameters swapped for the checked leaves.
        const swapped = Object.assign(Object.create(GATConv.prototype) as GATConv, conv, { lin: { weight }, attSrc, attDst, bias: bias ?? null });
        return swapped.forward(x, [c.sources, c.targets]);
      },
      (x, weight, attSrc, attDst, bias) => gatReference(x, weight, attSrc, attDst, bias ?? null, c.sources, c.targets, options(c)),
      { eps: 1e-6, atol: 2e-4, rtol: 2e-3 },
    );
    conv.dispose();
  });
}

test('GATConv: a batch of two graphs as one disjoint graph equals the two run separately', async () => {
  const c = cases[1];
  const p = parameters(c, 41);
  const conv = layer(c);
  load(conv, p);
  const second = { x: randomData(4 * c.inChannels, 42), sources: [0, 1, 2, 3, 3], targets: [1, 2, 3, 0, 0] };
  const x = (data: Float64Array, nodes: number) => tensor(Float32Array.from(data), [nodes, c.inChannels]);
  const a = await run(() => conv.forward(x(p.x, 6), [c.sources, c.targets]));
  const b = await run(() => conv.forward(x(second.x, 4), [second.sources, second.targets]));
  const batched = await run(() =>
    conv.forward(x(Float64Array.from([...p.x, ...second.x]), 10), [
      [...c.sources, ...second.sources.map((n) => n + 6)],
      [...c.targets, ...second.targets.map((n) => n + 6)],
    ]),
  );
  assertClose(batched, Float32Array.from([...a, ...b]), 'batched', { atol: 1e-6, rtol: 1e-6 });
  conv.dispose();
});

test('GATConv: a prepared AttentionGraph (from an int32 tensor) is reused, and gives the same', async () => {
  const c = cases[2];
  const p = parameters(c, 51);
  const conv = layer(c);
  load(conv, p);
  const edges = tensor(Int32Array.from([...c.sources, ...c.targets]), [2, c.sources.length]);
  const graph = attentionGraph(await readEdgeIndex(edges), c.nodes, { addSelfLoops: true });
  const direct = await run(() => conv.forward(tensor(Float32Array.from(p.x), [c.nodes, c.inChannels]), [c.sources, c.targets]));
  const prepared = await run(() => conv.forward(tensor(Float32Array.from(p.x), [c.nodes, c.inChannels]), graph));
  assert.equal(prepared, direct);
  assert.throws(() => layer({ ...c, addSelfLoops: false }).forward(tensor(Float32Array.from(p.x), [c.nodes, c.inChannels]), graph), /built with addSelfLoops true/);
  graph.dispose();
  edges.dispose();
  conv.dispose();
});

test('GATConv: bad edge indices are clear errors naming the edge', async () => {
  const conv = new GATConv(3, 2, { heads: 2 });
  const check = (edges: unknown, pattern: RegExp) =>
    tidy(() => {
      const x = tensor(new Float32Array(12), [4, 3]);
      assert.throws(() => conv.forward(x, edges as never), pattern);
    });
  check([[0, 1, 4], [1, 2, 0]], /GATConv: edge 2 \(4 -> 0\): its source 4 is out of range for 4 nodes/);
  check([[0, 1], [1, -1]], /edge 1 \(1 -> -1\): its target -1 is out of range/);
  check([[0, 1.5], [1, 2]], /edge 1 \(1.5 -> 2\): its source 1.5 is not an integer/);
  check([[0, NaN], [1, 2]], /edge 1 .*: its source NaN is not an integer/);
  check([[0, 1], [1]], /shape \[2, E\]; its rows have 2 sources and 1 targets/);
  check(Int32Array.of(0, 1, 2), /length must be even, got 3/);
  check([[0, 1]], /must be an Int32Array \[2, E\]/);
  check(tidy(() => tensor(Int32Array.of(0, 1), [2, 1])), /edgeIndex is a GPU tensor .*readEdgeIndex/);
  const floatEdges = tensor(Float32Array.of(0, 1), [2, 1]);
  await readEdgeIndex(floatEdges).then(
    () => assert.unreachable('a float32 edge tensor was accepted'),
    (e: Error) => assert.match(e.message, /readEdgeIndex: edgeIndex must be an int32 tensor, got float32/),
  );
  const wrongShape = tensor(Int32Array.of(0, 1, 2), [3, 1]);
  await readEdgeIndex(wrongShape).then(
    () => assert.unreachable('a [3, 1] edge tensor was accepted'),
    (e: Error) => assert.match(e.message, /must have shape \[2, E\], got \[3,1\]/),
  );
  floatEdges.dispose();
  wrongShape.dispose();
  conv.dispose();
});

test('GATConv: options are checked', () => {
  const conv = new GATConv(3, 2);
  assert.throws(() => new GATConv(3, 2, { heads: 0 }), /heads must be a positive integer, got 0/);
  assert.throws(() => new GATConv(3, 2, { dropout: 1 }), /dropout must be in \[0, 1\), got 1/);
  tidy(() => assert.throws(() => conv.forward(tensor(new Float32Array(4), [2, 2]), [[0], [1]]), /x must have shape \[nodes, 3\], got \[2,2\]/));
  conv.dispose();
});

/** The seed a call draws from the default generator right after manualSeed(seed). */
const drawnAfter = (seed: number) => new Generator(seed).nextUint32();

for (const c of [cases[1], cases[2]]) {
  test(`GATConv dropout (p 0.5, training): forward and every gradient against the float64 reference with the same mask: ${c.what}`, async () => {
    const p = parameters(c, 41);
    const conv = new GATConv(c.inChannels, c.channels, { heads: c.heads, concat: c.concat, bias: c.bias, addSelfLoops: c.addSelfLoops, dropout: 0.5 });
    const dropped = { ...options(c), dropout: { p: 0.5, seed: drawnAfter(77) } };
    const expected = gatReference(p.x, p.weight, p.attSrc, p.attDst, p.bias, c.sources, c.targets, dropped);
    const undropped = gatReference(p.x, p.weight, p.attSrc, p.attDst, p.bias, c.sources, c.targets, options(c));
    assert.ok(expected.some((v, i) => Math.abs(v - undropped[i]) > 1e-3), 'the mask drops some coefficients');
    const inputs = checkedInputs(c, p);
    const forward = (x: Tensor, weight: Tensor, attSrc: Tensor, attDst: Tensor, bias?: Tensor) => {
      manualSeed(77);
      const swapped = Object.assign(Object.create(GATConv.prototype) as GATConv, conv, { lin: { weight }, attSrc, attDst, bias: bias ?? null });
      return swapped.forward(x, [c.sources, c.targets]);
    };
    const leaves = () => inputs.map((i) => tensor(Float32Array.from(i.data), i.shape));
    assertClose(await run(() => forward(...(leaves() as [Tensor, Tensor, Tensor, Tensor, Tensor?]))), expected, 'forward', { atol: 1e-5, rtol: 1e-4 });
    await gradCheck(
      `${c.what}, dropout`,
      inputs,
      (x, weight, attSrc, attDst, bias) => forward(x, weight, attSrc, attDst, bias),
      (x, weight, attSrc, attDst, bias) => gatReference(x, weight, attSrc, attDst, bias ?? null, c.sources, c.targets, dropped),
      { eps: 1e-6, atol: 2e-4, rtol: 2e-3 },
    );
    conv.dispose();
  });
}

test('GATConv dropout: eval mode and p 0 are the plain layer; a seed gives one mask, the next draw another; survivors scaled by 1 / (1 - p)', async () => {
  const c = cases[1];
  const p = parameters(c, 51);
  const conv = new GATConv(c.inChannels, c.channels, { heads: c.heads, dropout: 0.3 });
  load(conv, p);
  const x = () => tensor(Float32Array.from(p.x), [c.nodes, c.inChannels]);
  const plain = gatReference(p.x, p.weight, p.attSrc, p.attDst, p.bias, c.sources, c.targets, options(c));
  conv.eval();
  assertClose(await run(() => conv.forward(x(), [c.sources, c.targets])), plain, 'eval mode', { atol: 1e-5, rtol: 1e-4 });
  conv.train();
  manualSeed(3);
  const first = await run(() => conv.forward(x(), [c.sources, c.targets]));
  const second = await run(() => conv.forward(x(), [c.sources, c.targets]));
  manualSeed(3);
  assert.equal(await run(() => conv.forward(x(), [c.sources, c.targets])), first, 'the same seed, the same mask');
  assert.ok(first.some((v, i) => Math.abs(v - second[i]) > 1e-4), 'the next call draws another mask');
  const dropped = gatReference(p.x, p.weight, p.attSrc, p.attDst, p.bias, c.sources, c.targets, { ...options(c), dropout: { p: 0.3, seed: drawnAfter(3) } });
  assertClose(first, dropped, 'training mode, p 0.3', { atol: 1e-5, rtol: 1e-4 });
  conv.dispose();
});

test('graphAttention dropout: the kept fraction of many coefficients is 1 - p', async () => {
  // A star: node 0 receives from every node with equal scores, so each α is 1 / nodes and out[0] is the
  // mean of the kept h values scaled by 1 / (1 - p); h = 1 makes out[0] = kept count / (nodes (1 - p)).
  const nodes = 4000;
  const sources = Array.from({ length: nodes - 1 }, (_, n) => n + 1);
  const graph = attentionGraph([sources, sources.map(() => 0)], nodes);
  const h = tensor(new Float32Array(nodes).fill(1), [nodes, 1, 1]);
  const score = tensor(new Float32Array(nodes), [nodes, 1]);
  for (const dropoutP of [0.2, 0.7]) {
    const out = await run(() => graphAttention(h, score, score, graph, 0.2, { dropoutP, generator: new Generator(5) }));
    const kept = out[0] * nodes * (1 - dropoutP);
    assert.ok(Math.abs(kept / nodes - (1 - dropoutP)) < 0.03, `kept fraction ${kept / nodes} for p ${dropoutP}`);
  }
  tidy(() => assert.throws(() => graphAttention(h, score, score, graph, 0.2, { dropoutP: 1 }), /graphAttention: dropoutP must be in \[0, 1\), got 1/));
  for (const t of [h, score]) t.dispose();
  graph.dispose();
});

interface FixtureCase {
  heads: number;
  channels: number;
  concat: boolean;
  addSelfLoops: boolean;
  inChannels: number;
  nodes: number;
  edgeIndex: [number[], number[]];
  x: number[];
  'lin.weight': number[];
  att_src: number[];
  att_dst: number[];
  bias: number[] | null;
  upstream: number[];
  out: number[];
  grad: Record<string, number[] | null>;
}

for (const [n, c] of (fixture.cases as unknown as FixtureCase[]).entries()) {
  test(`GATConv against PyTorch ${fixture.torch} (PyG semantics written out), case ${n}: heads ${c.heads}, concat ${c.concat}, bias ${!!c.bias}, self-loops ${c.addSelfLoops}`, async () => {
    const f64 = (v: number[]) => Float64Array.from(v);
    const reference = gatReference(f64(c.x), f64(c['lin.weight']), f64(c.att_src), f64(c.att_dst), c.bias && f64(c.bias), c.edgeIndex[0], c.edgeIndex[1], {
      nodes: c.nodes, inChannels: c.inChannels, heads: c.heads, channels: c.channels, concat: c.concat, negativeSlope: 0.2, addSelfLoops: c.addSelfLoops,
    });
    assertClose(reference, c.out, 'the float64 reference against PyTorch', { atol: 1e-12, rtol: 1e-12 });
    const conv = new GATConv(c.inChannels, c.channels, { heads: c.heads, concat: c.concat, bias: !!c.bias, addSelfLoops: c.addSelfLoops });
    conv.loadStateDict({
      'lin.weight': { shape: [c.heads * c.channels, c.inChannels], data: c['lin.weight'] },
      att_src: { shape: [1, c.heads, c.channels], data: c.att_src },
      att_dst: { shape: [1, c.heads, c.channels], data: c.att_dst },
      ...(c.bias ? { bias: { shape: [c.bias.length], data: c.bias } } : {}),
    });
    const x = tensor(Float32Array.from(c.x), [c.nodes, c.inChannels], { requiresGrad: true });
    const y = tidy(() => {
      const out = conv.forward(x, c.edgeIndex);
      out.backward(tensor(Float32Array.from(c.upstream), out.shape));
      return out;
    });
    assertClose(await y.toArray(), c.out, 'forward', { atol: 1e-5, rtol: 1e-4 });
    const grads: Record<string, Float32Array> = { x: await x.grad!.toArray() };
    for (const [name, t] of conv.namedParameters()) grads[name] = await t.grad!.toArray();
    for (const [name, expected] of Object.entries(c.grad)) {
      if (expected) assertCloseInNorm(grads[name], expected, `gradient of ${name}`, { rtol: 1e-4 });
    }
    y.dispose();
    x.grad!.dispose();
    x.dispose();
    conv.dispose();
  });
}

test('GATConv: more than 65535 workgroups of (node, head) invocations, forward and backward', async () => {
  // Self-loops only: each node attends to itself alone (alpha = 1), so out = h + bias and the gradient
  // of lin.weight is Σ_n x_n g_n, checkable at this size; 600,000 nodes × 8 heads = 4.8M invocations,
  // 75,000 workgroups of 64.
  const nodes = 600_000;
  const heads = 8;
  const conv = new GATConv(1, 1, { heads });
  const weight = await conv.lin.weight.toArray();
  const xData = Float32Array.from({ length: nodes }, (_, n) => ((n % 7) - 3) / 4);
  const x = tensor(xData, [nodes, 1]);
  const out = tidy(() => {
    const y = conv.forward(x, [[], []]);
    y.backward(tensor(new Float32Array(y.size).fill(1), y.shape));
    return y;
  });
  const values = await out.toArray();
  const expected = new Float32Array(nodes * heads);
  for (let n = 0; n < nodes; n++) for (let k = 0; k < heads; k++) expected[n * heads + k] = xData[n] * weight[k];
  assertClose(values, expected, 'out = h for self-loops only', { atol: 1e-6, rtol: 1e-5 });
  const xSum = xData.reduce((a, b) => a + b, 0);
  assertClose(await conv.lin.weight.grad!.toArray(), new Float32Array(heads).fill(xSum), 'lin.weight gradient', { atol: 1e-2, rtol: 1e-5 });
  assertClose(await conv.bias!.grad!.toArray(), new Float32Array(heads).fill(nodes), 'bias gradient', { atol: 1, rtol: 1e-6 });
  out.dispose();
  x.dispose();
  conv.dispose();
});

test('graphAttention without a recorded backward keeps no temporary (its logsumexp was lost per call)', async () => {
  const graph = attentionGraph(new Int32Array([0, 1, 1, 0]), 2);
  const h = tensor([1, 2, 3, 4], [2, 1, 2]);
  const score = tensor([0.5, -0.5], [2, 1]);
  const before = pool.memory().buffersInUse;
  for (let i = 0; i < 5; i++) {
    const out = noGrad(() => graphAttention(h, score, score, graph, 0.2));
    await out.toArray();
    out.dispose();
  }
  assert.is(pool.memory().buffersInUse, before, 'buffers in use');
  for (const t of [h, score, graph.targetCsr, graph.sourceCsr]) t.dispose();
});

test.run();
