/**
 * `interpolate`: bilinear resizing of [N, C, H, W] maps, as torch.nn.functional.interpolate with
 * mode='bilinear', and its backward wrt the input (gather form, see shaders/resample/bilinear.wgsl).
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { axisScale } from './scale.js';
import source from '../../../shaders/resample/bilinear.wgsl';
import { expectFloat32 } from '../checks.js';

const forwardKernel = new Kernel('bilinear_forward', source, 'forward');
const backwardKernel = new Kernel('bilinear_backward', source, 'backward');

export interface InterpolateOptions {
  /** Output [H, W]; give this or `scaleFactor`. */
  size?: readonly [number, number];
  /** Output = floor(input * factor) per axis (one factor for both, or [h, w]); give this or `size`. */
  scaleFactor?: number | readonly [number, number];
  mode?: 'bilinear';
  alignCorners?: boolean;
}

/** The shader's uniforms (shaders/resample/bilinear.wgsl); forward and backward share them. */
interface Geometry {
  planes: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  scaleH: number;
  scaleW: number;
  alignCorners: number;
}

function geometry(x: Tensor, options: InterpolateOptions): Geometry {
  const op = 'interpolate';
  if (x.ndim !== 4) throw new Error(`${op}: expected a 4-D input (N, C, H, W), got shape [${x.shape}]`);
  expectFloat32(op, 'input', x);
  const mode = options.mode ?? 'bilinear';
  if (mode !== 'bilinear') throw new Error(`${op}: mode '${mode}' is not supported; expected 'bilinear'`);
  const [n, c, h, w] = x.shape;
  if (h < 1 || w < 1) throw new Error(`${op}: input spatial size must be positive, got shape [${x.shape}]`);
  const { size, scaleFactor } = options;
  if ((size === undefined) === (scaleFactor === undefined)) {
    throw new Error(`${op}: give exactly one of size and scaleFactor (got ${size === undefined ? 'neither' : 'both'})`);
  }
  let outSize: [number, number];
  let factors: [number | undefined, number | undefined] = [undefined, undefined];
  if (size !== undefined) {
    if (size.length !== 2 || size.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`${op}: size must be two positive integers [H, W], got [${size}]`);
    }
    outSize = [size[0], size[1]];
  } else {
    const f = typeof scaleFactor === 'number' ? [scaleFactor, scaleFactor] : scaleFactor!;
    if (f.length !== 2 || f.some((s) => !(s > 0) || !Number.isFinite(s))) {
      throw new Error(`${op}: scaleFactor must be a positive number or two, got ${JSON.stringify(scaleFactor)}`);
    }
    outSize = [Math.floor(h * f[0]), Math.floor(w * f[1])];
    if (outSize[0] < 1 || outSize[1] < 1) {
      throw new Error(`${op}: scaleFactor [${f}] gives an empty output [${outSize}] for input [${x.shape}]`);
    }
    // PyTorch uses the given factors (not the rounded size ratio) to place source pixels.
    factors = [f[0], f[1]];
  }
  const alignCorners = options.alignCorners ?? false;
  return {
    planes: n * c,
    inH: h,
    inW: w,
    outH: outSize[0],
    outW: outSize[1],
    scaleH: axisScale(h, outSize[0], alignCorners, factors[0]),
    scaleW: axisScale(w, outSize[1], alignCorners, factors[1]),
    alignCorners: alignCorners ? 1 : 0,
  };
}

function run(kernel: Kernel, g: Geometry, from: Tensor, to: Tensor): void {
  dispatch(kernel, {
    workgroups: workgroups1d(Math.ceil(to.size / kernel.workgroupInvocations)),
    buffers: { source: from, result: to },
    uniforms: { ...g },
  });
}

/** Bilinear resize of x [N, C, H, W] to [N, C, outH, outW], exactly as PyTorch (CPU) computes it. */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  const g = geometry(x, options);
  const out = empty([x.shape[0], x.shape[1], g.outH, g.outW], 'float32', 'interpolate');
  run(forwardKernel, g, x, out);
  return record(out, 'interpolate', [x], (grad) => {
    const dx = empty(x.shape, 'float32', 'interpolate backward');
    run(backwardKernel, g, grad, dx);
    return [dx];
  });
}
