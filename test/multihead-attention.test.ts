// nn.MultiheadAttention against PyTorch 1.13 (scripts/fixtures/multihead_attention.py): a PyTorch state
// dict loaded by name, outputs, attention weights and the gradient of every input and parameter, for
// packed and separate projections, both layouts, unbatched inputs, bool and float masks, the weights
// path and the fused path. Also: PyTorch's initialisation and state-dict names, the isCausal hint, the
// two paths agreeing (float-mask gradient included), and the refusals.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, assertCloseInNorm, run } from './helpers/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';
import { add, mul } from '../src/kernels/elementwise/index.js';
import { sum } from '../src/kernels/reduce/index.js';
import { MultiheadAttention, type StateDict } from '../src/nn/index.js';
import { Generator } from '../src/engine/random.js';
import fixture from './fixtures/multihead_attention.json';

interface Entry {
  shape: number[];
  dtype: string;
  data: (number | boolean)[];
}

function fromEntry(entry: Entry, requiresGrad = false): Tensor {
  if (entry.dtype === 'bool') return tensor(entry.data as boolean[], entry.shape);
  return tensor(Float32Array.from(entry.data as number[]), entry.shape, { requiresGrad });
}

/** The largest |actual - expected|, for the report of measured errors. */
function maxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

for (const c of fixture.cases) {
  test(`MultiheadAttention matches PyTorch: ${c.name}`, async () => {
    const module = new MultiheadAttention(c.embedDim, c.numHeads, { kdim: c.kdim, vdim: c.vdim, batchFirst: c.batchFirst });
    module.loadStateDict(c.state as unknown as StateDict);
    const errors: string[] = [];
    const inputs = Object.fromEntries(Object.entries(c.inputs).map(([name, e]) => [name, fromEntry(e as Entry, true)]));
    const { output, weights } = tidy(() => {
      const query = inputs.query;
      const key = c.selfAttention ? query : inputs.key;
      const value = c.selfAttention ? query : inputs.value;
      const [output, weights] = module.forward(query, key, value, {
        attnMask: c.attnMask ? fromEntry(c.attnMask as Entry) : null,
        keyPaddingMask: c.keyPaddingMask ? fromEntry(c.keyPaddingMask as Entry) : null,
        needWeights: c.needWeights,
        averageAttnWeights: c.averageAttnWeights,
      });
      let loss = sum(mul(output, fromEntry(c.upstream as Entry)));
      if (weights && c.upstreamWeights) loss = add(loss, sum(mul(weights, fromEntry(c.upstreamWeights as Entry))));
      loss.backward();
      return { output, weights };
    });
    assert.equal(output.shape, c.output.shape, 'output shape');
    assert.equal(weights?.shape ?? null, c.weights?.shape ?? null, 'weights shape (null without needWeights)');
    const outputValues = await output.toArray();
    assertClose(outputValues, c.output.data as number[], `${c.name}: output`, { atol: 1e-5, rtol: 1e-4 });
    errors.push(`output ${maxError(outputValues, c.output.data as number[]).toExponential(1)}`);
    if (weights && c.weights) {
      const weightValues = await weights.toArray();
      assertClose(weightValues, c.weights.data as number[], `${c.name}: weights`, { atol: 1e-6, rtol: 1e-4 });
      errors.push(`weights ${maxError(weightValues, c.weights.data as number[]).toExponential(1)}`);
    }
    const parameters = Object.fromEntries(module.namedParameters());
    for (const [name, expected] of Object.entries(c.grads)) {
      const owner = inputs[name] ?? parameters[name];
      assert.ok(owner?.grad, `${c.name}: a gradient for ${name}`);
      const actual = await owner.grad!.toArray();
      assertCloseInNorm(actual, (expected as Entry).data as number[], `${c.name}: gradient of ${name}`, { rtol: 1e-5 });
      errors.push(`d${name} ${maxError(actual, (expected as Entry).data as number[]).toExponential(1)}`);
    }
    for (const t of [output, weights, ...Object.values(inputs)]) {
      t?.grad?.dispose();
      t?.dispose();
    }
    console.log(`  ${c.name}: max |error| ${errors.join(', ')}`);
    for (const [, p] of module.namedParameters()) p.grad?.dispose();
    module.dispose();
  });
}

test('MultiheadAttention: state-dict names and shapes as PyTorch, xavier-uniform projections, zero biases', async () => {
  const packed = new MultiheadAttention(8, 2);
  const shapes = (m: MultiheadAttention) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]));
  assert.equal(shapes(packed), { in_proj_weight: [24, 8], in_proj_bias: [24], 'out_proj.weight': [8, 8], 'out_proj.bias': [8] });
  const separate = new MultiheadAttention(8, 2, { kdim: 5, vdim: 6, bias: false });
  assert.equal(shapes(separate), { q_proj_weight: [8, 8], k_proj_weight: [8, 5], v_proj_weight: [8, 6], 'out_proj.weight': [8, 8] });
  // Keys in torch's state_dict() order (the fixture's are torch's own).
  assert.equal(Object.keys(packed.stateDict()), Object.keys(fixture.cases[0].state));
  assert.equal(Object.keys(new MultiheadAttention(8, 2, { kdim: 5, vdim: 6 }).stateDict()), Object.keys(fixture.cases[1].state));
  const within = async (t: Tensor, bound: number, what: string) => {
    const values = await t.toArray();
    const largest = Math.max(...values.map(Math.abs));
    assert.ok(largest <= bound && largest > 0.7 * bound, `${what}: max |value| ${largest}, expected just under ${bound}`);
  };
  await within(packed.inProjWeight!, Math.sqrt(6 / (8 + 24)), 'in_proj_weight');
  await within(separate.kProjWeight!, Math.sqrt(6 / (5 + 8)), 'k_proj_weight');
  await within(packed.outProj.weight, 1 / Math.sqrt(8), 'out_proj.weight');
  assert.ok((await packed.inProjBias!.toArray()).every((v) => v === 0), 'in_proj_bias zeros');
  assert.ok((await packed.outProj.bias!.toArray()).every((v) => v === 0), 'out_proj.bias zeros');
  packed.dispose();
  separate.dispose();
});

test('MultiheadAttention: the fused path equals the weights path, float-mask gradient included; isCausal uses the causal kernel', async () => {
  const module = new MultiheadAttention(8, 2, { batchFirst: true });
  const c = fixture.cases[1];
  const x = fromEntry(c.inputs.query as Entry);
  const causal = tensor(Array.from({ length: 9 }, (_, i) => i % 3 > Math.floor(i / 3)), [3, 3]);
  const results: Float32Array[][] = [];
  for (const needWeights of [true, false]) {
    const floatMask = tensor(Float32Array.from(c.attnMask!.data as number[]).slice(0, 9), [3, 3], { requiresGrad: true });
    const padding = tensor([0, -1.5, 0, 0.25, 0, 0], [2, 3], { requiresGrad: true });
    const { output, causalOutput } = tidy(() => {
      const [output] = module.forward(x, x, x, { attnMask: floatMask, keyPaddingMask: padding, needWeights });
      sum(mul(output, output)).backward();
      const [causalOutput] = noGrad(() => module.forward(x, x, x, { attnMask: causal, isCausal: true, needWeights }));
      return { output, causalOutput };
    });
    results.push([await output.toArray(), await floatMask.grad!.toArray(), await padding.grad!.toArray(), await causalOutput.toArray()]);
    for (const t of [output, causalOutput, floatMask, padding]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
  const names = ['output', 'attnMask gradient', 'keyPaddingMask gradient', 'causal output'];
  names.forEach((name, i) => assertClose(results[1][i], results[0][i], `fused vs weights path: ${name}`, { atol: 2e-6, rtol: 1e-5 }));
  x.dispose();
  causal.dispose();
  for (const [, p] of module.namedParameters()) p.grad?.dispose();
  module.dispose();
});

test('MultiheadAttention dropout in training mode: each returned weight 0 or its eval value / (1 - p), seeded; eval ignores it', async () => {
  const p = 0.3;
  const x = tensor(Float32Array.from({ length: 4 * 6 * 8 }, (_, i) => Math.sin(0.7 * i)), [4, 6, 8]);
  const module = new MultiheadAttention(8, 2, { batchFirst: true, dropout: p, generator: new Generator(3) });
  const weightsOf = async (train: boolean) => {
    module.train(train);
    return run(() => module.forward(x, x, x, { averageAttnWeights: false })[1]!);
  };
  const evaluated = await weightsOf(false);
  const dropped = await weightsOf(true);
  let zeros = 0;
  dropped.forEach((w, i) => {
    if (w === 0) zeros++;
    else assertClose([w], [evaluated[i] / (1 - p)], `weight ${i}`, { atol: 1e-6, rtol: 1e-5 });
  });
  assert.ok(zeros > 0.15 * dropped.length && zeros < 0.45 * dropped.length, `${zeros} of ${dropped.length} weights dropped at p ${p}`);
  // The fused path: seeded (two modules with one seed agree), and not the eval output.
  const fused = async (seed: number, train: boolean) => {
    const m = new MultiheadAttention(8, 2, { batchFirst: true, dropout: p, generator: new Generator(seed) });
    m.loadStateDict(module.stateDict());
    m.train(train);
    const out = await run(() => m.forward(x, x, x, { needWeights: false })[0]);
    m.dispose();
    return out;
  };
  assert.equal(await fused(8, true), await fused(8, true));
  assert.not.equal(await fused(8, true), await fused(8, false));
  module.dispose();
  x.dispose();
});

test('MultiheadAttention refuses bad arguments, naming the module, the shapes and what was expected', () => {
  const module = new MultiheadAttention(8, 2);
  tidy(() => {
    const x = tensor(new Float32Array(3 * 2 * 8), [3, 2, 8]);
    const refuses = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, pattern);
    refuses(() => new MultiheadAttention(8, 3), /embedDim 8 must be divisible by numHeads 3/);
    refuses(() => module.forward(x, x, tensor(new Float32Array(3 * 8), [3, 8])), /MultiheadAttention\(8, 2\): expected query, key and value all 3-D.*value \[3,8\]/);
    refuses(() => module.forward(x, tensor(new Float32Array(3 * 3 * 8), [3, 3, 8]), x), /one batch size.*key \[3,3,8\]/);
    refuses(() => module.forward(x, x, x, { attnMask: tensor(new Float32Array(6), [2, 3]) }), /attnMask must be \[3, 3\] \(L, S\) or \[4, 3, 3\].*got \[2,3\]/);
    refuses(() => module.forward(x, x, x, { keyPaddingMask: tensor(new Float32Array(3), [3]) }), /keyPaddingMask must be \[2,3\] \(N, S\), got \[3\]/);
    refuses(() => module.forward(x, x, x, { keyPaddingMask: tensor(new Int32Array(6), [2, 3]) }), /keyPaddingMask must be a bool or float32 tensor, got int32/);
    refuses(() => module.forward(x, x, x, { isCausal: true }), /isCausal .* needs attnMask/);
    refuses(() => new MultiheadAttention(8, 2, { dropout: 1.5 }), /dropout must be in \[0, 1\], got 1.5/);
  });
  module.dispose();
});

test.run();
