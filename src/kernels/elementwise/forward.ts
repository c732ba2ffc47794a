/**
 * The elementwise kernel: one WGSL function table (override OP) over four operand layouts (override
 * LAYOUT): broadcast by strides, same-shape vec4, and tensor-with-scalar either way round. No autograd
 * here; `index.ts` builds the differentiable ops on top.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { Tensor, empty } from '../../engine/tensor.js';
import { broadcastShapes, coalesce, dimsUniform } from '../shape/layout.js';
import { expectFloat32 } from '../checks.js';
import { broadcastStrides } from '../shape/strided_copy.js';
import source from '../../../shaders/elementwise/elementwise.wgsl';

const kernel = new Kernel('elementwise', source);

/** The functions of elementwise.wgsl, by the names of its `const` codes (the numbers come from there). */
export type ElementwiseFn =
  | 'ADD'
  | 'SUB'
  | 'MUL'
  | 'DIV'
  | 'POW'
  | 'EQ'
  | 'EXP'
  | 'LOG'
  | 'SQRT'
  | 'RELU'
  | 'SIGMOID'
  | 'TANH'
  | 'DIV_GRAD_B'
  | 'POW_GRAD_BASE'
  | 'POW_GRAD_EXP'
  | 'RELU_GRAD'
  | 'SIGMOID_GRAD'
  | 'TANH_GRAD'
  | 'SQRT_GRAD'
  | 'GELU'
  | 'GELU_TANH'
  | 'GELU_GRAD'
  | 'GELU_TANH_GRAD'
  | 'ERF'
  | 'ERF_GRAD'
  | 'LEAKY_RELU'
  | 'LEAKY_RELU_GRAD'
  | 'CLAMP'
  | 'CLAMP_GRAD';

/** The operand layouts of elementwise.wgsl, likewise by name. */
type Layout = 'BROADCAST' | 'CONTIGUOUS' | 'SCALAR_B' | 'SCALAR_A' | 'BROADCAST_ROWS';

/**
 * out = f(a, b) elementwise with broadcasting; a number operand is passed as a uniform. Unary
 * functions take their input as `a` and ignore `b` (pass 0). `args` are the numbers a function takes
 * besides its operands (LEAKY_RELU's slope, CLAMP's bounds: see elementwise.wgsl); others ignore them.
 */
export function elementwise(fn: ElementwiseFn, a: Tensor | number, b: Tensor | number, op: string, args: readonly [number, number] = [0, 0]): Tensor {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    throw new Error(`${op}: expected at least one Tensor operand, got the numbers ${a} and ${b}`);
  }
  // Named as torch names them: torch.add(input, other).
  if (a instanceof Tensor) expectFloat32(op, 'input', a);
  if (b instanceof Tensor) expectFloat32(op, 'other', b);
  const tensors = [a, b].filter((t): t is Tensor => t instanceof Tensor);
  const shape = a instanceof Tensor && b instanceof Tensor ? broadcastShapes(a.shape, b.shape, op) : tensors[0].shape;
  const out = empty(shape, 'float32', op);
  const count = out.size;
  const uniforms = { count, ndim: 0, scalar: 0, args, shape: dimsUniform([], op), aStrides: dimsUniform([], op), bStrides: dimsUniform([], op) };
  let layout: Layout;
  if (!(a instanceof Tensor)) {
    layout = 'SCALAR_A';
    uniforms.scalar = a;
  } else if (!(b instanceof Tensor)) {
    layout = 'SCALAR_B';
    uniforms.scalar = b;
  } else if (a.size === count && b.size === count) {
    layout = 'CONTIGUOUS';
  } else {
    const walk = coalesce(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)]);
    const inner = walk.shape.length - 1;
    const rows = walk.shape[inner] % 4 === 0 && walk.strides.every((s) => s[inner] <= 1);
    layout = rows ? 'BROADCAST_ROWS' : 'BROADCAST';
    uniforms.ndim = walk.shape.length;
    uniforms.shape = dimsUniform(walk.shape, op);
    uniforms.aStrides = dimsUniform(walk.strides[0], op);
    uniforms.bStrides = dimsUniform(walk.strides[1], op);
  }
  const [bufferA, bufferB] = [a instanceof Tensor ? a : (b as Tensor), b instanceof Tensor ? b : (a as Tensor)];
  dispatch(kernel, {
    // One vec4 of the output per invocation.
    workgroups: workgroups1d(Math.ceil(count / (4 * kernel.workgroupInvocations))),
    buffers: { a: bufferA, b: bufferB, out },
    uniforms,
    constants: { OP: kernel.constant(fn), LAYOUT: kernel.constant(layout) },
  });
  return out;
}
