// conv2d's kernels take the group and channel block from the workgroup's z index, which has a per-dimension
// limit (maxComputeWorkgroupsPerDimension, 65535 here). A grouped convolution past it is refused naming the
// op, the factors of the count, the shapes and the limit (it failed at dispatch with
// "workgroup counts [1,1,70000]"); one at the limit runs and matches the float64 reference.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, randomData, run } from './helpers/index.js';
import { tensor } from '../src/engine/tensor.js';
import { gpu } from '../src/engine/device.js';
import { conv2d, conv2dBackwardData, conv2dBackwardWeight, type BackwardVariant, type ForwardVariant } from '../src/kernels/conv2d/index.js';
import { conv2dGeometry } from '../src/kernels/conv2d/geometry.js';
import { supportsVariant } from '../src/kernels/conv2d/forward.js';
import { sharedLoadsRun } from '../src/kernels/subgroups.js';
import { conv2dRef, conv2dWeightGradRef, type ConvSpec } from './reference/conv2d.js';

/** A depthwise 1x1 convolution of `channels` channels on a 1x1 map at batch 1: one group per channel. */
function depthwise(channels: number): ConvSpec {
  return { xShape: [1, channels, 1, 1], wShape: [channels, 1, 1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: channels };
}

const forwardVariants: ForwardVariant[] = ['direct', 'gemm', '1x1', 'rows'];
const backwardVariants: BackwardVariant[] = ['tiles', 'rows'];
const runnable = (variant: ForwardVariant | BackwardVariant) => variant !== 'rows' || sharedLoadsRun();

test('a grouped conv whose groups × channel blocks exceed the z limit is refused, naming op, factors, shapes and limit', () => {
  const zLimit = gpu().limits.maxComputeWorkgroupsPerDimension;
  assert.ok(zLimit < 70_000, `the test presumes a z limit under 70000 groups (WebGPU's default 65535), the device has ${zLimit}`);
  const spec = depthwise(70_000);
  const g = conv2dGeometry(spec.xShape, spec.wShape, { groups: spec.groups });
  const x = tensor(randomData(70_000, 1), spec.xShape);
  const w = tensor(randomData(70_000, 2), spec.wShape);
  const shapes = 'input \\[1,70000,1,1\\], weight \\[70000,1,1,1\\], groups 70000';
  const limit = `more than the device's maxComputeWorkgroupsPerDimension \\(${zLimit}\\)`;
  const variants = forwardVariants.filter((v) => runnable(v) && supportsVariant(g, v));
  for (const variant of [undefined, ...variants]) {
    assert.throws(
      () => conv2d(x, w, null, { groups: spec.groups, variant }),
      new RegExp(`^conv2d: groups \\(70000\\) × channel blocks per group \\(1\\) = 70000 workgroups along z, ${limit}; ${shapes}`),
      `forward ${variant ?? 'default'}`,
    );
  }
  const dy = tensor(randomData(70_000, 3), spec.xShape);
  for (const variant of backwardVariants.filter(runnable)) {
    assert.throws(
      () => conv2dBackwardData(dy, w, spec.xShape, { groups: spec.groups, variant }),
      new RegExp(`^conv2dBackwardData: stride phases \\(1\\) × groups \\(70000\\) × channel blocks per group \\(1\\) = 70000 workgroups along z, ${limit}; ${shapes}`),
      `backward data ${variant}`,
    );
  }
  if (runnable('rows')) {
    assert.throws(
      () => conv2dBackwardWeight(x, dy, spec.wShape, { groups: spec.groups, variant: 'rows' }),
      new RegExp(`^conv2dBackwardWeight: chunks \\(1\\) × groups \\(70000\\) × output-channel blocks per group \\(1\\) = 70000 workgroups along z, ${limit}; ${shapes}`),
    );
  }
  [x, w, dy].forEach((t) => t.dispose());
});

test('the weight gradient over tiles (groups not along z) takes 70,000 groups and matches the float64 reference', async () => {
  const spec = depthwise(70_000);
  const x = randomData(70_000, 4);
  const dy = randomData(70_000, 5);
  const got = await run(() => conv2dBackwardWeight(tensor(x, spec.xShape), tensor(dy, spec.xShape), spec.wShape, { groups: spec.groups, variant: 'tiles' }));
  assertClose(got, conv2dWeightGradRef(spec, x, dy), 'conv2dBackwardWeight tiles, 70000 groups', { atol: 1e-6, rtol: 1e-6 });
});

test('a grouped conv at the limit (65535 groups) runs and matches the float64 reference', async () => {
  const spec = depthwise(65_535);
  const x = randomData(65_535, 6);
  const w = randomData(65_535, 7);
  const got = await run(() => conv2d(tensor(x, spec.xShape), tensor(w, spec.wShape), null, { groups: spec.groups }));
  assertClose(got, conv2dRef(spec, x, w), 'conv2d, 65535 groups', { atol: 1e-6, rtol: 1e-6 });
});

test.run();
