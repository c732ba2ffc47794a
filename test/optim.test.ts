import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, kernelsDispatched, randomData } from './helpers/index.js';
import { assertNoRaces } from './helpers/race.js';
import { tensor, numel, type Tensor } from '../src/engine/tensor.js';
import { keep } from '../src/engine/scope.js';
import {
  SGD,
  Adam,
  AdamW,
  StepLR,
  CosineAnnealingLR,
  clipGradNorm,
  gradsAreFinite,
  nonFiniteFlag,
  splitOptimizerState,
  joinOptimizerState,
  type Optimizer,
  type OptimizerStateDict,
  type SGDOptions,
  type AdamOptions,
  type GroupHyper,
} from '../src/optim/index.js';
import normTotalSource from '../shaders/optim/norm_total.wgsl';
import fixtureJson from './fixtures/optim.json';

// ---- float64 references of the update rules (torch 1.13, written from its documentation) ----------

type Vec = Float64Array;
type Grads = (Vec | null)[];

/** torch.optim.SGD: one step over all parameters; `bufs` is the momentum state (absent = None). */
function sgdReference(params: Vec[], grads: Grads, bufs: (Vec | undefined)[], o: Required<SGDOptions>): void {
  params.forEach((p, i) => {
    const g = grads[i];
    if (!g) return;
    const d = g.map((v, j) => v + o.weightDecay * p[j]);
    if (o.momentum !== 0) {
      const buf = bufs[i];
      if (!buf) bufs[i] = d.slice();
      else buf.forEach((b, j) => (buf[j] = o.momentum * b + (1 - o.dampening) * d[j]));
      const b = bufs[i]!;
      d.forEach((v, j) => (d[j] = o.nesterov ? v + o.momentum * b[j] : b[j]));
    }
    p.forEach((v, j) => (p[j] = v - o.lr * d[j]));
  });
}

interface AdamReferenceState {
  step: number;
  expAvg: Vec;
  expAvgSq: Vec;
  maxExpAvgSq: Vec;
}

/** torch.optim.Adam (decoupled = false) and AdamW (true): one step over all parameters. */
function adamReference(params: Vec[], grads: Grads, states: (AdamReferenceState | undefined)[], o: Required<AdamOptions>, decoupled: boolean): void {
  const [b1, b2] = o.betas;
  params.forEach((p, i) => {
    const grad = grads[i];
    if (!grad) return;
    const s = (states[i] ??= { step: 0, expAvg: new Float64Array(p.length), expAvgSq: new Float64Array(p.length), maxExpAvgSq: new Float64Array(p.length) });
    s.step += 1;
    const g = decoupled ? grad : grad.map((v, j) => v + o.weightDecay * p[j]);
    if (decoupled) p.forEach((v, j) => (p[j] = v * (1 - o.lr * o.weightDecay)));
    const c1 = 1 - b1 ** s.step;
    const c2 = Math.sqrt(1 - b2 ** s.step);
    p.forEach((v, j) => {
      s.expAvg[j] = b1 * s.expAvg[j] + (1 - b1) * g[j];
      s.expAvgSq[j] = b2 * s.expAvgSq[j] + (1 - b2) * g[j] * g[j];
      s.maxExpAvgSq[j] = Math.max(s.maxExpAvgSq[j], s.expAvgSq[j]);
      const v2 = o.amsgrad ? s.maxExpAvgSq[j] : s.expAvgSq[j];
      p[j] = v - ((o.lr / c1) * s.expAvg[j]) / (Math.sqrt(v2) / c2 + o.eps);
    });
  });
}

/** clip_grad_norm_: the total norm of all gradients together, and the scaled gradients. */
function clipReference(grads: Vec[], maxNorm: number, normType: number): { total: number; clipped: Vec[] } {
  const all = grads.flatMap((g) => [...g].map(Math.abs));
  const total = normType === Infinity ? Math.max(...all) : all.reduce((s, a) => s + a ** normType, 0) ** (1 / normType);
  const coef = Math.min(maxNorm / (total + 1e-6), 1);
  return { total, clipped: grads.map((g) => g.map((v) => v * coef)) };
}

// ---- helpers -------------------------------------------------------------------------------------

const SHAPES = [[1], [7], [3, 5], [1030]]; // batch-1 scalar, a ragged vec4 tail, 2-D, two workgroups
const tol = { atol: 2e-6, rtol: 2e-5 };

function makeParams(shapes: number[][], data: Vec[]): Tensor[] {
  return shapes.map((s, i) => keep(tensor(Float32Array.from(data[i]), s, { requiresGrad: true })));
}

/** Sets the gradients (kept, as autograd keeps those of leaves); null leaves a parameter without one. */
function setGrads(params: Tensor[], grads: Grads): void {
  params.forEach((p, i) => {
    p.grad?.dispose();
    const g = grads[i];
    p.grad = g ? keep(tensor(Float32Array.from(g), p.shape)) : null;
  });
}

/** Random gradients for `step`, leaving out the one of parameter 1 at step 1. */
function stepGrads(shapes: number[][], step: number, seed: number): Grads {
  return shapes.map((s, i) => (step === 1 && i === 1 ? null : randomData(numel(s), seed + 100 * step + i)));
}

/** Float32 rounding of the starting values, so that the reference starts where the GPU does. */
const f32 = (v: ArrayLike<number>) => Float64Array.from(Float32Array.from(v));

async function values(tensors: Tensor[]): Promise<Float32Array[]> {
  return Promise.all(tensors.map((t) => t.toArray()));
}

function disposeAll(params: Tensor[], optimizer?: Optimizer<GroupHyper, object>): void {
  optimizer?.dispose();
  for (const p of params) {
    p.grad?.dispose();
    p.dispose();
  }
}

async function stateTensor(dict: OptimizerStateDict, index: number, name: string): Promise<Float32Array> {
  return (dict.state[index][name] as Tensor).toArray();
}

// ---- update rules against float64 references -----------------------------------------------------

test('SGD matches a float64 reference: plain, momentum with dampening, Nesterov; skipped grads', async () => {
  const configs: Required<SGDOptions>[] = [
    { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0.25, weightDecay: 0.01, nesterov: false },
    { lr: 0.05, momentum: 0.8, dampening: 0, weightDecay: 0.02, nesterov: true },
  ];
  for (const [c, options] of configs.entries()) {
    const expected = SHAPES.map((s, i) => f32(randomData(numel(s), 10 + i)));
    const params = makeParams(SHAPES, expected);
    const optimizer = new SGD(params, options);
    const bufs: (Vec | undefined)[] = [];
    for (let step = 0; step < 4; step++) {
      const grads = stepGrads(SHAPES, step, 1000 * c);
      setGrads(params, grads);
      optimizer.step();
      sgdReference(expected, grads.map((g) => g && f32(g)), bufs, options);
    }
    const got = await values(params);
    got.forEach((v, i) => assertClose(v, expected[i], `SGD config ${c}, parameter ${i}`, tol));
    const dict = optimizer.stateDict();
    for (let i = 0; i < SHAPES.length; i++) {
      if (options.momentum === 0) assert.not.ok(dict.state[i]?.momentumBuffer, 'no momentum buffer without momentum');
      else assertClose(await stateTensor(dict, i, 'momentumBuffer'), bufs[i]!, `SGD config ${c}, momentum buffer ${i}`, tol);
    }
    disposeAll(params, optimizer);
  }
});

test('SGD steps all parameters of a group in one dispatch (packed), bit for bit as one dispatch per tensor', async () => {
  const configs: Required<SGDOptions>[] = [
    { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0.25, weightDecay: 0.01, nesterov: false },
    { lr: 0.05, momentum: 0.8, dampening: 0, weightDecay: 0.02, nesterov: true },
  ];
  // Several workgroups per tensor (3000 elements), vec4 tails, a scalar; two groups.
  const shapes = [[1], [7], [3, 5], [3000], [2, 2, 3]];
  for (const [c, options] of configs.entries()) {
    const start = shapes.map((s, i) => f32(randomData(numel(s), 40 + i)));
    const packed = makeParams(shapes, start);
    const plain = makeParams(shapes, start);
    // A view of each parameter keeps its storage shared, so this optimizer cannot pack them.
    const views = plain.map((p) => keep(p.detach()));
    const groups = (params: Tensor[]) => [{ params: params.slice(0, 3) }, { params: params.slice(3), lr: options.lr / 2 }];
    const a = new SGD(groups(packed), options);
    const b = new SGD(groups(plain), options);
    assert.ok(a.packed, 'parameters packed');
    assert.not.ok(b.packed, 'parameters sharing storage with views stay apart');
    for (let step = 0; step < 4; step++) {
      const grads = stepGrads(shapes, step, 2000 * c);
      setGrads(packed, grads);
      setGrads(plain, grads);
      const kernels = await kernelsDispatched(() => a.step());
      assert.equal(kernels, ['sgd_multi', 'sgd_multi'], `config ${c} step ${step}: one dispatch per group`);
      const perTensor = await kernelsDispatched(() => b.step());
      assert.equal(perTensor.filter((k) => k === 'sgd').length, grads.filter((g) => g).length, `config ${c} step ${step}: the per-tensor step`);
      if (step === 2) {
        // Momentum state loaded from elsewhere is taken into the packed buffer.
        a.loadStateDict(b.stateDict());
      }
    }
    const [got, expected] = [await values(packed), await values(plain)];
    got.forEach((v, i) => assert.equal(Array.from(v), Array.from(expected[i]), `config ${c}, parameter ${i}`));
    const [da, db] = [a.stateDict(), b.stateDict()];
    for (let i = 0; i < shapes.length; i++) {
      if (options.momentum === 0) continue;
      const [ma, mb] = [await stateTensor(da, i, 'momentumBuffer'), await stateTensor(db, i, 'momentumBuffer')];
      assert.equal(Array.from(ma), Array.from(mb), `config ${c}, momentum buffer ${i}`);
    }
    for (const v of views) v.dispose();
    disposeAll(packed, a);
    disposeAll(plain, b);
  }
});

test('a packed parameter reads, loads and clones as itself; a second optimizer packing it again takes over', async () => {
  const start = [f32(randomData(5, 50)), f32(randomData(70, 51))];
  const params = makeParams([[5], [7, 10]], start);
  const first = new SGD(params, { lr: 0.5 });
  assert.ok(first.packed);
  assert.equal(Array.from(await params[1].toArray()), Array.from(Float32Array.from(start[1])), 'read back in place');
  assert.equal(Array.from(await params[1].clone().toArray()), Array.from(Float32Array.from(start[1])), 'clone');
  assert.equal(Array.from(await params[1].view([70]).toArray()), Array.from(Float32Array.from(start[1])), 'a view');
  const second = new SGD(params, { lr: 0.25 });
  assert.ok(second.packed && !first.packed, 'the second optimizer packed them; the first steps tensor by tensor');
  setGrads(params, [new Float64Array(5).fill(1), new Float64Array(70).fill(2)]);
  assert.equal((await kernelsDispatched(() => first.step())).length, 2);
  assert.equal(await kernelsDispatched(() => second.step()), ['sgd_multi']);
  const expected = start.map((v, i) => Float32Array.from(v, (x) => Math.fround(Math.fround(x - 0.5 * (i + 1)) - 0.25 * (i + 1))));
  const got = await values(params);
  got.forEach((v, i) => assert.equal(Array.from(v), Array.from(expected[i]), `parameter ${i}`));
  first.dispose();
  disposeAll(params, second);
});

test('Adam and AdamW match a float64 reference, with weight decay and AMSGrad; step counts per parameter', async () => {
  const configs: [typeof Adam, Required<AdamOptions>][] = [
    [Adam, { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false }],
    [Adam, { lr: 0.02, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.1, amsgrad: true }],
    [AdamW, { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, amsgrad: false }],
    [AdamW, { lr: 0.03, betas: [0.85, 0.99], eps: 1e-7, weightDecay: 0.5, amsgrad: true }],
  ];
  for (const [c, [Kind, options]] of configs.entries()) {
    const what = `${Kind.name} config ${c}`;
    const expected = SHAPES.map((s, i) => f32(randomData(numel(s), 20 + i)));
    const params = makeParams(SHAPES, expected);
    const optimizer = new Kind(params, options);
    const states: (AdamReferenceState | undefined)[] = [];
    for (let step = 0; step < 4; step++) {
      const grads = stepGrads(SHAPES, step, 2000 + 1000 * c);
      setGrads(params, grads);
      optimizer.step();
      adamReference(expected, grads.map((g) => g && f32(g)), states, options, Kind === AdamW);
    }
    const got = await values(params);
    got.forEach((v, i) => assertClose(v, expected[i], `${what}, parameter ${i}`, tol));
    const dict = optimizer.stateDict();
    for (let i = 0; i < SHAPES.length; i++) {
      assert.is(dict.state[i].step, states[i]!.step, `${what}: step count of parameter ${i}`);
      assertClose(await stateTensor(dict, i, 'expAvg'), states[i]!.expAvg, `${what}, expAvg ${i}`, tol);
      assertClose(await stateTensor(dict, i, 'expAvgSq'), states[i]!.expAvgSq, `${what}, expAvgSq ${i}`, tol);
      if (options.amsgrad) assertClose(await stateTensor(dict, i, 'maxExpAvgSq'), states[i]!.maxExpAvgSq, `${what}, maxExpAvgSq ${i}`, tol);
      else assert.is(dict.state[i].maxExpAvgSq, undefined);
    }
    assert.is(dict.state[1].step, 3, 'the parameter left without a gradient once has taken one step less');
    disposeAll(params, optimizer);
  }
});

test('Adam and AdamW step all parameters of a group in one dispatch (packed), bit for bit as one dispatch per tensor', async () => {
  const configs: [typeof Adam, Required<AdamOptions>][] = [
    [Adam, { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false }],
    [Adam, { lr: 0.02, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.1, amsgrad: true }],
    [AdamW, { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, amsgrad: false }],
    [AdamW, { lr: 0.03, betas: [0.85, 0.99], eps: 1e-7, weightDecay: 0.5, amsgrad: true }],
  ];
  // Several workgroups per tensor (3000 elements), vec4 tails, a scalar; two groups.
  const shapes = [[1], [7], [3, 5], [3000], [2, 2, 3]];
  for (const [c, [Kind, options]] of configs.entries()) {
    const what = `${Kind.name} config ${c}`;
    const start = shapes.map((s, i) => f32(randomData(numel(s), 60 + i)));
    const packed = makeParams(shapes, start);
    const plain = makeParams(shapes, start);
    const views = plain.map((p) => keep(p.detach()));
    const groups = (params: Tensor[]) => [{ params: params.slice(0, 3) }, { params: params.slice(3), lr: options.lr / 2 }];
    const a = new Kind(groups(packed), options);
    const b = new Kind(groups(plain), options);
    assert.ok(a.packed, 'parameters packed');
    assert.not.ok(b.packed, 'parameters sharing storage with views stay apart');
    for (let step = 0; step < 5; step++) {
      const grads = stepGrads(shapes, step, 3000 * c);
      setGrads(packed, grads);
      setGrads(plain, grads);
      const kernels = await kernelsDispatched(() => a.step());
      assert.equal(kernels, ['adam_multi', 'adam_multi'], `${what} step ${step}: one dispatch per group`);
      const perTensor = await kernelsDispatched(() => b.step());
      assert.equal(perTensor.filter((k) => k === 'adam').length, grads.filter((g) => g).length, `${what} step ${step}: the per-tensor step`);
      // Moments loaded from elsewhere are taken into the packed buffers, step counts with them.
      if (step === 2) a.loadStateDict(b.stateDict());
    }
    const [got, expected] = [await values(packed), await values(plain)];
    got.forEach((v, i) => assert.equal(Array.from(v), Array.from(expected[i]), `${what}, parameter ${i}`));
    const [da, db] = [a.stateDict(), b.stateDict()];
    assert.equal(Object.keys(da.state), Object.keys(db.state), `${what}: the same parameters have state`);
    for (let i = 0; i < shapes.length; i++) {
      assert.is(da.state[i].step, db.state[i].step, `${what}: step count ${i}`);
      assert.equal(Object.keys(da.state[i]).sort(), Object.keys(db.state[i]).sort(), `${what}: state entries ${i}`);
      for (const name of ['expAvg', 'expAvgSq', ...(options.amsgrad ? ['maxExpAvgSq'] : [])]) {
        const [ma, mb] = [await stateTensor(da, i, name), await stateTensor(db, i, name)];
        assert.equal(Array.from(ma), Array.from(mb), `${what}, ${name} ${i}`);
      }
    }
    for (const v of views) v.dispose();
    disposeAll(packed, a);
    disposeAll(plain, b);
  }
});

test('Adam: a state dict loaded without some parameters restarts them at zero moments (packed ranges are not read)', async () => {
  const shapes = [[5], [1030]];
  const start = shapes.map((s, i) => f32(randomData(numel(s), 70 + i)));
  const packed = makeParams(shapes, start);
  const plain = makeParams(shapes, start);
  const views = plain.map((p) => keep(p.detach()));
  const options = { lr: 0.05, amsgrad: true };
  const [a, b] = [new Adam(packed, options), new Adam(plain, options)];
  for (let step = 0; step < 3; step++) {
    const grads = stepGrads(shapes, step + 5, 90);
    setGrads(packed, grads);
    setGrads(plain, grads);
    a.step();
    b.step();
    // Parameter 1's state is dropped: its next step is a first one again, in both.
    if (step === 1) {
      const dict = b.stateDict();
      delete dict.state[1];
      a.loadStateDict(dict);
      b.loadStateDict(dict);
    }
  }
  const [got, expected] = [await values(packed), await values(plain)];
  got.forEach((v, i) => assert.equal(Array.from(v), Array.from(expected[i]), `parameter ${i}`));
  assert.is(a.stateDict().state[1].step, 1);
  for (const v of views) v.dispose();
  disposeAll(packed, a);
  disposeAll(plain, b);
});

// ---- PyTorch fixtures ----------------------------------------------------------------------------

interface OptimizerCase {
  name: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, unknown>;
  shapes: number[][];
  initial: number[][];
  steps: { grads: (number[] | null)[]; params: number[][] }[];
}
interface SchedulerCase {
  name: 'StepLR' | 'CosineAnnealingLR';
  options: Record<string, number>;
  baseLrs: number[];
  lrs: number[][];
}
interface ClipCase {
  maxNorm: number;
  normType: number | 'inf';
  shapes: number[][];
  grads: number[][];
  total: number;
  clipped: number[][];
}
const fixture = fixtureJson as unknown as { optimizers: OptimizerCase[]; schedulers: SchedulerCase[]; clip: ClipCase[] };

const optimizerKinds = { SGD, Adam, AdamW } as const;

test('SGD, Adam and AdamW follow PyTorch 1.13 step by step (fixture)', async () => {
  for (const c of fixture.optimizers) {
    const what = `${c.name} ${JSON.stringify(c.options)}`;
    const params = makeParams(c.shapes, c.initial.map((v) => Float64Array.from(v)));
    const optimizer = new optimizerKinds[c.name](params, c.options as never);
    for (const [k, step] of c.steps.entries()) {
      setGrads(params, step.grads.map((g) => g && Float64Array.from(g)));
      optimizer.step();
      (await values(params)).forEach((v, i) => assertClose(v, step.params[i], `${what}: step ${k}, parameter ${i}`, tol));
    }
    disposeAll(params, optimizer);
  }
});

function schedulerOf(c: SchedulerCase, optimizer: SGD): StepLR | CosineAnnealingLR {
  return c.name === 'StepLR'
    ? new StepLR(optimizer, c.options as { stepSize: number })
    : new CosineAnnealingLR(optimizer, c.options as { tMax: number });
}

test('StepLR and CosineAnnealingLR give PyTorch 1.13 learning rates over several periods (fixture)', () => {
  for (const c of fixture.schedulers) {
    const params = c.baseLrs.map(() => keep(tensor([0], [1], { requiresGrad: true })));
    const optimizer = new SGD(
      params.map((p, i) => ({ params: [p], lr: c.baseLrs[i] })),
      { lr: c.baseLrs[0] },
    );
    const scheduler = schedulerOf(c, optimizer);
    for (let epoch = 0; epoch < c.lrs.length; epoch++) {
      if (epoch > 0) scheduler.step();
      const lrs = scheduler.getLastLr();
      assert.equal(optimizer.paramGroups.map((g) => g.lr), lrs, `${c.name}: the groups carry the rates`);
      assertClose(lrs, c.lrs[epoch], `${c.name} ${JSON.stringify(c.options)}, epoch ${epoch}`, { atol: 0, rtol: 1e-14 });
    }
    assert.is(scheduler.lastEpoch, c.lrs.length - 1);
    disposeAll(params, optimizer);
  }
});

test('clipGradNorm follows torch.nn.utils.clip_grad_norm_ (fixture: p = 2, 1, 3, inf; clipped or not)', async () => {
  for (const c of fixture.clip) {
    const normType = c.normType === 'inf' ? Infinity : c.normType;
    const params = makeParams(c.shapes, c.shapes.map((s) => new Float64Array(numel(s))));
    setGrads(params, c.grads.map((g) => Float64Array.from(g)));
    const total = clipGradNorm(params, c.maxNorm, normType);
    assert.equal(total.shape, []);
    assertClose([await total.item()], [c.total], `clip p=${c.normType}: total norm`, tol);
    for (const [i, p] of params.entries()) assertClose(await p.grad!.toArray(), c.clipped[i], `clip p=${c.normType}: gradient ${i}`, tol);
    total.dispose();
    disposeAll(params);
  }
});

// ---- clipping and the finite check ---------------------------------------------------------------

test('clipGradNorm matches a float64 reference over many partials; skips parameters without grad', async () => {
  // 20001 elements: 313 partials over two workgroups, more than the final kernel's 256 invocations.
  const shapes = [[20001], [3], [1], [2, 2]];
  for (const [maxNorm, normType] of [[10, 2], [1e4, 2], [3, 1.5], [0.1, Infinity]]) {
    const grads = shapes.map((s, i) => f32(randomData(numel(s), 300 + i, -2, 2)));
    grads[1][2] = -7.5; // the largest |g|, in a vec4 tail
    const params = makeParams(shapes, shapes.map((s) => new Float64Array(numel(s))));
    setGrads(params, [grads[0], grads[1], null, grads[3]]);
    const { total, clipped } = clipReference([grads[0], grads[1], grads[3]], maxNorm, normType);
    const got = clipGradNorm(params, maxNorm, normType);
    assertClose([await got.item()], [total], `p=${normType}: total`, { atol: 0, rtol: 1e-5 });
    assertClose(await params[0].grad!.toArray(), clipped[0], `p=${normType}: gradient 0`, tol);
    assertClose(await params[1].grad!.toArray(), clipped[1], `p=${normType}: gradient 1`, tol);
    assertClose(await params[3].grad!.toArray(), clipped[2], `p=${normType}: gradient 3`, tol);
    assert.is(params[2].grad, null);
    got.dispose();
    disposeAll(params);
  }
  const none = makeParams([[2]], [new Float64Array(2)]);
  const zero = clipGradNorm(none, 1);
  assert.is(await zero.item(), 0, 'no gradients: total norm 0, as torch');
  zero.dispose();
  disposeAll(none);
  assert.throws(() => clipGradNorm([], 1, 0), /clipGradNorm: normType must be a number > 0 or Infinity, got 0/);
  assert.throws(() => clipGradNorm([], NaN), /clipGradNorm: maxNorm must be a number, got NaN/);
});

test('clipGradNorm turns every gradient into NaN when one holds a NaN, as torch does', async () => {
  const params = makeParams([[5], [2]], [new Float64Array(5), new Float64Array(2)]);
  for (const normType of [2, Infinity]) {
    setGrads(params, [Float64Array.from([1, 2, 3, 4, NaN]), Float64Array.from([1, 1])]);
    const total = clipGradNorm(params, 1, normType);
    assert.ok(Number.isNaN(await total.item()), `p=${normType}: total is NaN`);
    assert.ok([...(await params[1].grad!.toArray())].every(Number.isNaN), `p=${normType}: finite gradient scaled by NaN`);
    total.dispose();
  }
  disposeAll(params);
});

test('gradsAreFinite finds a NaN or an infinity anywhere, including a vec4 tail; ignores tail padding', async () => {
  const shapes = [[5], [1030]];
  const params = makeParams(shapes, shapes.map((s) => new Float64Array(numel(s))));
  const clean = () => shapes.map((s, i) => randomData(numel(s), 40 + i));
  setGrads(params, clean());
  assert.ok(await gradsAreFinite(params));
  for (const [i, at, value] of [[0, 4, NaN], [1, 0, Infinity], [1, 1029, -Infinity], [1, 517, NaN]] as const) {
    const grads = clean();
    grads[i][at] = value;
    setGrads(params, grads);
    assert.not.ok(await gradsAreFinite(params), `${value} at ${at} of gradient ${i}`);
  }
  // Past a tensor's end, its pooled buffer may hold anything: free a buffer of the same size class
  // holding NaN there, so that the next 5-element gradient gets it.
  setGrads(params, clean());
  params[0].grad!.dispose();
  const padded = keep(tensor([1, 2, 3, 4, 5, NaN, NaN, NaN], [8]));
  const nanPadding = padded.buffer;
  padded.dispose();
  params[0].grad = keep(tensor([1, 2, 3, 4, 5], [5]));
  assert.ok(params[0].grad.buffer === nanPadding, 'the 5-element gradient got the buffer holding NaN past its end');
  const flag = nonFiniteFlag(params);
  assert.is(await flag.item(), 0, 'NaN in the padding is ignored');
  flag.dispose();
  setGrads(params, [null, null]);
  assert.ok(await gradsAreFinite(params), 'no gradients: finite');
  disposeAll(params);
});

test('norm_total (workgroup-memory reduction) has no races', () => {
  const count = 300;
  assertNoRaces(normTotalSource, 'clip_norm_total', {
    workgroups: [1],
    buffers: { partials: Float32Array.from({ length: count }, (_, i) => i), total: new Float32Array(4), coef: new Float32Array(4) },
    uniforms: { count, p: 2, maxNorm: 1 },
  });
});

// ---- resuming, the optimizer API and its errors --------------------------------------------------

/** Runs `steps` steps, then saves (through host arrays and JSON, as a checkpoint would), restores into
 *  fresh parameters and a fresh optimizer, and runs the rest; returns the final parameters. */
async function trainWithResume(
  make: (params: Tensor[]) => Optimizer<GroupHyper, object>,
  total: number,
  resumeAt: number | null,
): Promise<Float32Array[]> {
  const start = SHAPES.map((s, i) => randomData(numel(s), 50 + i));
  let params = makeParams(SHAPES, start);
  let optimizer = make(params);
  for (let step = 0; step < total; step++) {
    if (step === resumeAt) {
      const { tensors, meta } = splitOptimizerState(optimizer.stateDict());
      const hostTensors = Object.fromEntries(
        await Promise.all(Object.entries(tensors).map(async ([k, t]) => [k, { shape: t.shape, data: await (t as Tensor).toArray() }])),
      );
      const saved = await values(params);
      disposeAll(params, optimizer);
      params = makeParams(SHAPES, saved.map((v) => Float64Array.from(v)));
      optimizer = make(params);
      optimizer.loadStateDict(joinOptimizerState(hostTensors, JSON.parse(JSON.stringify(meta))));
    }
    setGrads(params, stepGrads(SHAPES, step, 77));
    optimizer.step();
  }
  const out = await values(params);
  disposeAll(params, optimizer);
  return out;
}

test('stateDict / loadStateDict resume exactly (SGD Nesterov, Adam AMSGrad, AdamW) through a host round trip', async () => {
  const makers: [string, (params: Tensor[]) => Optimizer<GroupHyper, object>][] = [
    ['SGD', (p) => new SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 })],
    ['Adam', (p) => new Adam(p, { lr: 0.01, amsgrad: true, weightDecay: 0.1 })],
    ['AdamW', (p) => new AdamW([{ params: p.slice(0, 2) }, { params: p.slice(2), lr: 0.002 }], { lr: 0.01 })],
  ];
  for (const [name, make] of makers) {
    const straight = await trainWithResume(make, 5, null);
    const resumed = await trainWithResume(make, 5, 3);
    straight.forEach((v, i) => assert.equal(resumed[i], v, `${name}: parameter ${i} after resuming`));
  }
});

test('loadStateDict restores hyper-parameters and rejects mismatched state', () => {
  const params = makeParams([[3], [2]], [new Float64Array(3), new Float64Array(2)]);
  const a = new Adam(params, { lr: 0.5, betas: [0.5, 0.6] });
  setGrads(params, [new Float64Array(3), new Float64Array(2)]);
  a.step();
  const dict = a.stateDict();
  const b = new Adam(params);
  b.loadStateDict(dict);
  assert.is(b.paramGroups[0].lr, 0.5);
  assert.equal(b.paramGroups[0].betas, [0.5, 0.6]);
  assert.is(b.stateDict().state[1].step, 1);
  assert.throws(
    () => new Adam([params[0]]).loadStateDict(dict),
    /Adam.loadStateDict: saved groups hold \[2\] parameters, this optimizer's \[1\]/,
  );
  const swapped = { ...dict, state: { 0: dict.state[1], 1: dict.state[0] } };
  assert.throws(() => b.loadStateDict(swapped), /Adam.loadStateDict: state 0: 'expAvg' has shape \[2\], the parameter \[3\]/);
  assert.throws(
    () => b.loadStateDict({ ...dict, state: { 0: { step: 1, momentumBuffer: dict.state[0].expAvg } } }),
    /unknown entry 'momentumBuffer' \(Adam keeps expAvg, expAvgSq, maxExpAvgSq, step\)/,
  );
  assert.throws(() => new SGD(params, { lr: 1 }).loadStateDict(dict as never), /SGD.loadStateDict: saved group 0 has unknown hyper-parameter\(s\) betas, eps, amsgrad/);
  assert.is(b.stateDict().state[1].step, 1, 'a failed load leaves the state as it was');
  b.dispose();
  disposeAll(params, a);
});

test('zeroGrad frees gradients; parameter groups override defaults; bad settings name the optimizer', async () => {
  const params = makeParams([[2], [3]], [new Float64Array(2), new Float64Array(3)]);
  setGrads(params, [new Float64Array(2), new Float64Array(3)]);
  const grad = params[0].grad!;
  const optimizer = new SGD([{ params: [params[0]] }, { params: [params[1]], lr: 0.5, momentum: 0.9 }], { lr: 0.1 });
  assert.equal(
    optimizer.paramGroups.map(({ params: _, ...h }) => h),
    [
      { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
      { lr: 0.5, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false },
    ],
  );
  optimizer.zeroGrad();
  assert.is(params[0].grad, null);
  assert.ok(grad.isDisposed, 'the old gradient is freed');
  optimizer.step(); // no gradients: nothing to do
  assert.equal(optimizer.stateDict().state, {});

  assert.throws(() => new SGD(params, { lr: 0.1, nesterov: true }), /SGD \(group 0\): Nesterov momentum requires a momentum > 0 and zero dampening, got momentum 0, dampening 0/);
  assert.throws(() => new SGD(params, { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /Nesterov momentum requires/);
  assert.throws(() => new SGD(params, { lr: -1 }), /SGD \(group 0\): invalid learning rate -1; expected a number >= 0/);
  assert.throws(() => new SGD(params, {} as SGDOptions), /SGD \(group 0\): invalid learning rate undefined/);
  assert.throws(() => new Adam(params, { betas: [0.9, 1] }), /Adam \(group 0\): invalid beta parameter at index 1: 1; expected 0 <= beta < 1/);
  assert.throws(() => new AdamW(params, { eps: -1 }), /AdamW \(group 0\): invalid epsilon -1/);
  assert.throws(() => new SGD([], { lr: 1 }), /SGD: got an empty parameter list/);
  assert.throws(() => new SGD([params[0], params[0]], { lr: 1 }), /SGD: parameter 1 of group 0 .* appears more than once/);
  assert.throws(() => new SGD([{ params: [3 as never] }], { lr: 1 }), /SGD: parameter 0 of group 0 must be a float32 tensor, got 3, which is not a Tensor/);
  params[1].grad = keep(tensor([1, 2], [2]));
  assert.throws(() => optimizer.step(), /SGD.step: the gradient of a parameter of shape \[3\] has shape \[2\]/);
  disposeAll(params, optimizer);
});

test('a scheduler sets the rate the next step uses; scheduler state resumes exactly', async () => {
  const params = makeParams([[3]], [Float64Array.from([1, 2, 3])]);
  const optimizer = new SGD(params, { lr: 0.4 });
  const scheduler = new StepLR(optimizer, { stepSize: 1, gamma: 0.5 });
  const expected = f32([1, 2, 3]);
  for (let epoch = 0; epoch < 3; epoch++) {
    setGrads(params, [Float64Array.from([1, -1, 0.5])]);
    optimizer.step();
    sgdReference([expected], [Float64Array.from([1, -1, 0.5])], [], { lr: 0.4 * 0.5 ** epoch, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false });
    scheduler.step();
  }
  assertClose(await params[0].toArray(), expected, 'SGD under StepLR', tol);

  const cosine = new CosineAnnealingLR(new SGD(params, { lr: 0.1 }), { tMax: 4, etaMin: 0.01 });
  for (let i = 0; i < 3; i++) cosine.step();
  const saved = JSON.parse(JSON.stringify({ optimizer: cosine.optimizer, scheduler: cosine.stateDict() }));
  const restoredOptimizer = new SGD(params, { lr: 0.1 });
  restoredOptimizer.paramGroups[0].lr = saved.optimizer.paramGroups[0].lr;
  const restored = new CosineAnnealingLR(restoredOptimizer, { tMax: 1 });
  restored.loadStateDict(saved.scheduler);
  for (let i = 0; i < 6; i++) {
    cosine.step();
    restored.step();
    assert.equal(restored.getLastLr(), cosine.getLastLr(), `epoch ${cosine.lastEpoch}`);
  }
  assert.throws(() => restored.loadStateDict({ lastEpoch: 1 }), /CosineAnnealingLR.loadStateDict: got entries lastEpoch; expected/);
  assert.throws(() => new StepLR(optimizer, { stepSize: 0 }), /StepLR: stepSize must be a positive integer, got 0/);
  disposeAll(params, optimizer);
});

test.run();
