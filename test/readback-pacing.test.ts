// Readbacks wait without polling for work seen before (recorder.beforeReadback): the values read are
// those of the work, whether it waited or not, alone or two readbacks at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import './helpers/index.js';
import { tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { add, mul } from '../src/kernels/elementwise/index.js';
import { recorder } from '../src/engine/recorder.js';

test('repeated work is timed once and read back right every time, also two readbacks at once', async () => {
  const a = tensor([1, 2, 3, 4], [4]);
  const before = recorder.timedReadbacks;
  for (let i = 0; i < 5; i++) {
    const [s, p] = tidy(() => {
      let s = a;
      for (let k = 0; k < 20; k++) s = add(s, a);
      return [s, mul(s, a)];
    });
    const [sv, pv] = await Promise.all([s.toArray(), p.toArray()]);
    assert.equal(Array.from(sv), [21, 42, 63, 84], `sum, round ${i}`);
    assert.equal(Array.from(pv), [21, 84, 189, 336], `product, round ${i}`);
    s.dispose();
    p.dispose();
  }
  assert.ok(recorder.timedReadbacks > before, 'the work was timed');
  a.dispose();
});

test.run();
