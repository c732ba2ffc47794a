// Autograd errors for tensors the caller disposed explicitly (autograd.test.ts covers those gone with
// their tidy scope): the backward names the op that made the disposed tensor instead of reading freed
// storage or taking the tensor for a leaf.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import './helpers/index.js'; // the device
import { tensor } from '../src/engine/tensor.js';
import { mul } from '../src/kernels/elementwise/index.js';
import { sum } from '../src/kernels/reduce/index.js';

test('an intermediate disposed with dispose() before backward is named by the op that made it', () => {
  const x = tensor([1, -2, 3], [3], { requiresGrad: true });
  const y = mul(x, x);
  // The graph is built first: sum(y) on an already disposed y would fail in the forward.
  const z = sum(mul(y, 2));
  y.dispose();
  assert.throws(() => z.backward(), /backward: the output of mul \[3\] \(input 0 of mul\) was disposed before backward/);
  assert.is(x.grad, null, 'nothing reached the leaf');
  z.dispose();
  x.dispose();
});

test.run();
