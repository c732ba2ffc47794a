// Reflection of the numbers a shader shares with the host: module-scope consts (folded where they are
// expressions of other consts), never those of a function body, and a clear error for a missing name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kernel, wgslConstants } from '../src/engine/kernel.js';

const source = `
const WG = 64u;
const VEC4S: u32 = 4u;
const STRIDE = WG * VEC4S;
const OFFSET: i32 = -2i;
const COUNT = 3;
const HALF: f32 = 0.5;
const ENABLED = true;
const LOWEST: f32 = bitcast<f32>(0xff7fffffu);
override OP: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) id: vec3u) {
  const LOCAL = 7u;
  out[id.x] = f32(LOCAL + STRIDE);
}
`;

test('wgslConstants: the module-scope numeric consts, expressions folded; no bools, overrides or function-scope consts', () => {
  assert.equal(Object.fromEntries(wgslConstants(source)), { WG: 64, VEC4S: 4, STRIDE: 256, OFFSET: -2, COUNT: 3, HALF: 0.5 });
});

test('Kernel.constant reads one const; a missing one is named with those that exist', () => {
  const kernel = new Kernel('constants_probe', source);
  assert.is(kernel.constant('STRIDE'), 256);
  assert.is(kernel.workgroupInvocations, 64);
  assert.throws(
    () => kernel.constant('LOCAL'),
    (e: Error) => e.message === "kernel constants_probe: expected a module-scope numeric const 'LOCAL' in its WGSL, found only WG, VEC4S, STRIDE, OFFSET, COUNT, HALF",
  );
});

test.run();
