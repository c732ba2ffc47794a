// The autograd tape and memory ownership: accumulation over reused tensors, explicit upstream
// gradients, noGrad, detach, errors; a graph run backward twice, or after its scope closed; a tidy
// that throws; and a 1000-step training loop that keeps the pool flat.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose } from './helpers/index.js';
import { tensor, zeros } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';
import { pool } from '../src/engine/pool.js';
import { manualSeed } from '../src/engine/random.js';
import { add, mul, relu } from '../src/kernels/elementwise/index.js';
import { sum } from '../src/kernels/reduce/index.js';
import { maxPool2d } from '../src/kernels/pool/index.js';
import { batchNorm2d } from '../src/kernels/batchnorm/index.js';
import { reshape } from '../src/kernels/shape/index.js';
import { crossEntropy } from '../src/kernels/softmax/index.js';
import { Linear } from '../src/nn/linear.js';
import { Sequential } from '../src/nn/module.js';
import { ReLU } from '../src/nn/activation.js';
import { SGD } from '../src/optim/index.js';

test('a tensor used several times gets the sum of its gradients', async () => {
  const x = tensor([1, -2, 3], [3], { requiresGrad: true });
  // y = sum(x * x + x + relu(x)): dy/dx = 2x + 1 + [x > 0]
  tidy(() => sum(add(add(mul(x, x), x), relu(x))).backward());
  assertClose(await x.grad!.toArray(), [4, -3, 8], 'grad');
  // A second backward accumulates into .grad, as in PyTorch.
  tidy(() => sum(x).backward());
  assertClose(await x.grad!.toArray(), [5, -2, 9], 'accumulated grad');
  x.grad!.dispose();
  x.dispose();
});

test('the same gradient tensor reaching two leaves is not shared between them', async () => {
  const a = tensor([1, 2], [2], { requiresGrad: true });
  const b = tensor([3, 4], [2], { requiresGrad: true });
  tidy(() => sum(add(a, b)).backward());
  a.grad!.dispose();
  assertClose(await b.grad!.toArray(), [1, 1], 'b.grad survives disposing a.grad');
  for (const t of [a, b]) t.dispose();
  b.grad!.dispose();
});

test('backward with an explicit upstream gradient; errors name the shapes', async () => {
  const x = tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
  tidy(() => mul(x, 3).backward(tensor([1, 0, 0, 2], [2, 2])));
  assertClose(await x.grad!.toArray(), [3, 0, 0, 6], 'grad');
  tidy(() => {
    const y = mul(x, 2);
    assert.throws(() => y.backward(), /not a scalar; pass the upstream gradient/);
    assert.throws(() => y.backward(zeros([4])), /gradient of shape \[4\] for a tensor of shape \[2,2\]/);
  });
  assert.throws(() => tensor([1]).backward(), /does not require grad/);
  x.grad!.dispose();
  x.dispose();
});

test('noGrad records nothing; detach cuts the graph', async () => {
  const x = tensor([1, 2], [2], { requiresGrad: true });
  const y = noGrad(() => mul(x, x));
  assert.is(y.requiresGrad, false);
  assert.is(y.node, null);
  tidy(() => sum(mul(mul(x, x).detach(), x)).backward());
  assertClose(await x.grad!.toArray(), [1, 4], 'd/dx of sum(stop(x*x) * x) = x*x');
  for (const t of [x, y, x.grad!]) t.dispose();
});

test('a second backward through the same graph is refused, naming the op, before any work', async () => {
  const x = tensor([1, -2, 3], [3], { requiresGrad: true });
  tidy(() => {
    const y = mul(x, x);
    const loss = sum(y);
    loss.backward();
    assert.throws(() => loss.backward(), /backward: trying to backward through the graph a second time: the output of sum \[\] \(the tensor backward was called on\)/);
    // Through a shared intermediate: the leaf must not be mistaken for the intermediate, nor get anything.
    assert.throws(() => sum(mul(y, 2)).backward(), /second time: the output of mul \[3\] \(input 0 of mul\)/);
  });
  assert.equal(Array.from(await x.grad!.toArray()), [2, -4, 6], 'only the first backward reached x');
  x.grad!.dispose();
  x.dispose();
});

test('backward(grad, { retainGraph: true }) keeps the graph for another backward', async () => {
  const x = tensor([1, -2, 3], [3], { requiresGrad: true });
  tidy(() => {
    const y = mul(x, x);
    sum(y).backward({ retainGraph: true });
    y.backward(tensor([1, 1, 1], [3]), { retainGraph: true });
    sum(y).backward();
    assert.throws(() => sum(y).backward(), /second time: the output of mul \[3\]/);
  });
  assertClose(await x.grad!.toArray(), [6, -12, 18], 'three backwards of 2x accumulate');
  x.grad!.dispose();
  x.dispose();
});

test('a retained graph keeps the saved temporaries its rules read (crossEntropy, maxPool2d, batchNorm2d)', async () => {
  const x = tensor(Float32Array.from({ length: 2 * 2 * 4 * 4 }, (_, i) => Math.sin(i)), [2, 2, 4, 4], { requiresGrad: true });
  const runningMean = zeros([2]);
  const runningVar = zeros([2]);
  tidy(() => {
    const pooled = maxPool2d(batchNorm2d(x, runningMean, runningVar, null, null, { training: true }), { kernelSize: 2 });
    const loss = crossEntropy(reshape(pooled, [2, 8]), Int32Array.from([3, 5]));
    loss.backward({ retainGraph: true });
    loss.backward();
  });
  const once = tidy(() => {
    const pooled = maxPool2d(batchNorm2d(x, zeros([2]), zeros([2]), null, null, { training: true }), { kernelSize: 2 });
    const grad = x.grad!;
    x.grad = null;
    crossEntropy(reshape(pooled, [2, 8]), Int32Array.from([3, 5])).backward();
    return [grad, x.grad!];
  });
  const [twice, single] = await Promise.all(once.map((t) => t.toArray()));
  assertClose(twice, single.map((v) => 2 * v), 'two backwards through the retained graph give twice the gradient');
  for (const t of [...once, x, runningMean, runningVar]) t.dispose();
});

test('backward after the forward scope closed names the op whose tensor is gone, and why', () => {
  const w = tensor([0.5, -1, 2, 0.25, 1, -0.5], [2, 3], { requiresGrad: true });
  const labels = Int32Array.from([2, 0]);
  // crossEntropy saves its row logsumexp, made (and disposed) inside the scope.
  const onLeaf = tidy(() => crossEntropy(w, labels));
  assert.throws(
    () => onLeaf.backward(),
    /backward of crossEntropy: a tensor it saved in the forward \(shape \[2\]\) was disposed, by dispose\(\) or by the closing of the tidy scope of its forward/,
  );
  // An intermediate of the graph disposed with its scope: named, never taken for a leaf.
  const throughIntermediate = tidy(() => crossEntropy(mul(w, 2), labels));
  assert.throws(
    () => throughIntermediate.backward(),
    /backward: the output of mul \[2,3\] \(input 0 of crossEntropy\) was disposed before backward, by dispose\(\) or by the closing of the tidy scope that made it/,
  );
  assert.is(w.grad, null, 'nothing reached the leaf');
  for (const t of [onLeaf, throughIntermediate, w]) t.dispose();
});

test('a tidy whose function throws disposes what it made: pool flat over 1000 throwing steps', () => {
  const x = tensor([1, 2, 3, 4], [4], { requiresGrad: true });
  const throwingStep = () => {
    try {
      tidy(() => {
        sum(mul(x, x)).backward();
        throw new Error('step failed');
      });
    } catch (error) {
      assert.is((error as Error).message, 'step failed');
    }
  };
  throwingStep();
  x.grad!.dispose();
  x.grad = null;
  const before = pool.memory();
  for (let i = 0; i < 1000; i++) {
    throwingStep();
    x.grad!.dispose(); // kept on purpose: a leaf's gradient outlives every scope
    x.grad = null;
  }
  const after = pool.memory();
  assert.is(after.bytesInUse, before.bytesInUse, 'bytes in use');
  assert.is(after.buffersInUse, before.buffersInUse, 'buffers in use');
  x.dispose();
});

test('1000 training steps keep pool memory flat', async () => {
  manualSeed(3);
  const model = new Sequential(new Linear(16, 32), new ReLU(), new Linear(32, 4));
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const data = tensor(Float32Array.from({ length: 8 * 16 }, (_, i) => Math.sin(i)), [8, 16]);
  const labels = Int32Array.from([0, 1, 2, 3, 0, 1, 2, 3]);
  const step = () =>
    tidy(() => {
      const loss = crossEntropy(model.forward(data), labels);
      loss.backward();
      optimizer.step();
      optimizer.zeroGrad();
    });
  for (let i = 0; i < 10; i++) step(); // warm up: optimizer state and pool classes are made
  const lossNow = async () => {
    const loss = noGrad(() => tidy(() => crossEntropy(model.forward(data), labels)));
    const value = await loss.item();
    loss.dispose();
    return value;
  };
  const first = await lossNow();
  const before = pool.memory();
  for (let i = 0; i < 1000; i++) step();
  const after = pool.memory();
  assert.is(after.bytesInUse, before.bytesInUse, 'bytes in use');
  assert.is(after.buffersInUse, before.buffersInUse, 'buffers in use');
  assert.is(after.bytesAllocated, before.bytesAllocated, 'bytes allocated');
  const last = await lossNow();
  assert.ok(last < first / 10, `the loop trains (loss ${first} → ${last})`);
  optimizer.dispose();
  model.dispose();
  data.dispose();
});

test.run();
