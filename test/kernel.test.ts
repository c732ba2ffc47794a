// Reflection of the numbers a shader shares with the host: module-scope consts (folded where they are
// expressions of other consts), never those of a function body, and a clear error for a missing name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kernel, agreedConstant, wgslConstants } from '../src/engine/kernel.js';

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

test('agreedConstant: one value over several kernels; a copy that differs names each kernel and its value', () => {
  const a = new Kernel('agree_a', source);
  const b = new Kernel('agree_b', source);
  const c = new Kernel('agree_c', source.replace('const WG = 64u;', 'const WG = 32u;'));
  assert.is(agreedConstant([a, b], 'WG'), 64);
  assert.throws(() => agreedConstant([a, b, c], 'WG'), (e: Error) => e.message === 'kernels agree_a (64), agree_b (64), agree_c (32) must agree on const WG');
});

test('packUniforms refuses integers its u32 and i32 fields would wrap or cut, naming kernel, field and value', () => {
  const kernel = new Kernel('uniform_probe', `
struct Params { count: u32, offset: i32, scale: f32, shape: vec2<u32> }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1)
fn main() { out[0] = f32(params.count) + f32(params.offset) + params.scale + f32(params.shape.x); }
`);
  const slot = new DataView(new ArrayBuffer(256));
  const pack = (values: Record<string, number | number[]>) =>
    kernel.packUniforms({ count: 1, offset: -1, scale: 0.5, shape: [2, 3], ...values }, slot, 0);
  pack({ count: 2 ** 32 - 1, offset: -(2 ** 31) });
  assert.is(slot.getUint32(0, true), 2 ** 32 - 1);
  assert.is(slot.getInt32(4, true), -(2 ** 31));
  const refused = (values: Record<string, number | number[]>, message: string) =>
    assert.throws(() => pack(values), (e: Error) => e.message === message);
  refused({ count: -1 }, "kernel uniform_probe: uniform 'count' is u32, which holds integers 0..4294967295; got -1");
  refused({ count: 2 ** 32 }, "kernel uniform_probe: uniform 'count' is u32, which holds integers 0..4294967295; got 4294967296");
  refused({ count: 2.5 }, "kernel uniform_probe: uniform 'count' is u32, which holds integers 0..4294967295; got 2.5");
  refused({ offset: 2 ** 31 }, "kernel uniform_probe: uniform 'offset' is i32, which holds integers -2147483648..2147483647; got 2147483648");
  refused({ shape: [2, NaN] }, "kernel uniform_probe: uniform 'shape[1]' is u32, which holds integers 0..4294967295; got NaN");
});

test.run();
