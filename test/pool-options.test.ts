// The options argument of the pooling ops: a kernel size alone stands for { kernelSize } (PyTorch's
// functional forms take kernel_size positionally); anything else that is not an options object, an
// unknown key or a non-boolean flag is an error naming the op (maxPool2d(x, 2) used to fail with
// "Cannot read properties of undefined (reading '0')").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomData, run } from './helpers/index.js';
import { tensor } from '../src/engine/tensor.js';
import { maxPool2d, avgPool2d, adaptiveAvgPool2d } from '../src/kernels/pool/index.js';

const data = randomData(2 * 3 * 4 * 4, 7);
const input = () => tensor(data, [2, 3, 4, 4]);

test('a kernel size alone (number or pair) is the same as { kernelSize }', async () => {
  for (const kernelSize of [2, [2, 1] as const]) {
    const what = JSON.stringify(kernelSize);
    assert.equal(Array.from(await run(() => maxPool2d(input(), kernelSize))), Array.from(await run(() => maxPool2d(input(), { kernelSize }))), `maxPool2d ${what}`);
    assert.equal(Array.from(await run(() => avgPool2d(input(), kernelSize))), Array.from(await run(() => avgPool2d(input(), { kernelSize }))), `avgPool2d ${what}`);
  }
});

test('an options argument that is neither an object nor a kernel size names the op and what it takes', () => {
  const x = input();
  const cases: [unknown, string][] = [
    [undefined, 'undefined'],
    [null, 'null'],
    ['2', '"2"'],
    [[2, 2, 2], '\\[2,2,2\\]'],
  ];
  for (const [options, shown] of cases) {
    assert.throws(
      () => maxPool2d(x, options as never),
      new RegExp(`^maxPool2d: options must be \\{ kernelSize, stride, padding, ceilMode \\} or a kernel size \\(an integer or a pair of them\\), got ${shown}$`),
      `maxPool2d(x, ${shown})`,
    );
    assert.throws(() => avgPool2d(x, options as never), /^avgPool2d: /, `avgPool2d(x, ${shown})`);
  }
  assert.throws(() => maxPool2d(x, 0), /^maxPool2d: kernelSize must be an integer >= 1 or a pair of them, got 0$/);
  assert.throws(() => adaptiveAvgPool2d(x, undefined as never), /^adaptiveAvgPool2d: outputSize must be an integer >= 1 or a pair of them, got undefined$/);
  assert.throws(() => adaptiveAvgPool2d(x, null as never), /^adaptiveAvgPool2d: outputSize must be an integer >= 1 or a pair of them, got null$/);
  x.dispose();
});

test('misspelt options and non-boolean flags are refused, not ignored', () => {
  const x = input();
  assert.throws(
    () => maxPool2d(x, { kernel_size: 2 } as never),
    /^maxPool2d: unknown option 'kernel_size'; options are \{ kernelSize, stride, padding, ceilMode \}/,
  );
  assert.throws(
    () => avgPool2d(x, { kernelSize: 2, count_include_pad: false } as never),
    /^avgPool2d: unknown option 'count_include_pad'; options are \{ kernelSize, stride, padding, ceilMode, countIncludePad \}/,
  );
  assert.throws(() => maxPool2d(x, { kernelSize: 2, ceilMode: 'yes' } as never), /^maxPool2d: ceilMode must be true or false, got "yes"$/);
  assert.throws(() => avgPool2d(x, { kernelSize: 2, countIncludePad: 0 } as never), /^avgPool2d: countIncludePad must be true or false, got 0$/);
  x.dispose();
});

test.run();
