/**
 * conv2d forward kernels and the choice between them:
 * - `1x1`: 1×1 kernels without padding (any stride), a matmul over channels;
 * - `gemm`: implicit GEMM with register blocking and input-row reuse across taps, any shape whose
 *   input row segment fits the shader's register array;
 * - `rows`: implicit GEMM over rows flattened across batch and pixels, any shape; for small feature
 *   maps, where `gemm`'s 8-pixel row tiles would leave most lanes idle (needs subgroups of 8 lanes);
 * - `direct`: one pixel per invocation, no reuse, any shape (the fallback);
 * - `dense`: one matmul over the whole map (dense.ts), forced only (not faster on lavapipe).
 * Each but `dense` applies bias, a residual and ReLU in its store.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { outputShape, usedTaps, windowUniforms, zWorkgroups, type ChannelBlockLaunch, type Conv2dGeometry } from './geometry.js';
import { conv2dTuning, fittedWorkgroupSize, preferRows } from './tuning.js';
import { sharedLoadsRun } from '../subgroups.js';
import { denseForward } from './dense.js';
import gemmSource from '../../../shaders/conv2d/forward_gemm.wgsl';
import pointwiseSource from '../../../shaders/conv2d/forward_1x1.wgsl';
import directSource from '../../../shaders/conv2d/forward_direct.wgsl';
import rowsSource from '../../../shaders/conv2d/forward_rows.wgsl';

// Tile shapes (TP, SEG_MAX, ROWS, COLS, CHANNELS) are the shaders' module-scope consts, read with
// Kernel.constant, not overrides: they size function-scope arrays (accumulators, the input row
// segment), which WGSL allows only for const-expressions, or the lanes of a vec4 accumulator.
const gemmKernel = new Kernel('conv2d_forward_gemm', gemmSource);
const pointwiseKernel = new Kernel('conv2d_forward_1x1', pointwiseSource);
const directKernel = new Kernel('conv2d_forward_direct', directSource);
const rowsKernel = new Kernel('conv2d_forward_rows', rowsSource);

export type ForwardVariant = '1x1' | 'gemm' | 'rows' | 'direct' | 'dense';
type WindowVariant = Exclude<ForwardVariant, 'dense'>;

export interface Epilogue {
  bias: Tensor | null;
  residual: Tensor | null;
  relu: boolean;
}

/** A forward variant: its kernel, the geometries it takes, and how it covers one. */
interface ForwardKernel {
  kernel: Kernel;
  supports(g: Conv2dGeometry): boolean;
  launch(g: Conv2dGeometry): ChannelBlockLaunch;
}

/** Taps along W the gemm kernel covers per input-row segment, or 0 when not even one fits. */
function gemmTapChunk(g: Conv2dGeometry): number {
  const [, sw] = g.stride;
  const [, dw] = g.dilation;
  const room = gemmKernel.constant('SEG_MAX') - 1 - (gemmKernel.constant('TP') - 1) * sw;
  return room < 0 ? 0 : Math.min(g.kW, Math.floor(room / dw) + 1);
}

const forwardKernels: Record<WindowVariant, ForwardKernel> = {
  '1x1': {
    kernel: pointwiseKernel,
    supports: (g) => g.kH === 1 && g.kW === 1 && g.padding[0] === 0 && g.padding[1] === 0,
    launch(g) {
      const tilesPerImage = Math.ceil((g.OH * g.OW) / pointwiseKernel.constant('TP'));
      const tileCount = g.N * tilesPerImage;
      return {
        invocations: tileCount,
        blocksPerGroup: Math.ceil(g.Og / pointwiseKernel.constant('CHANNELS')),
        uniforms: {
          xShape: [g.N, g.C, g.H, g.W],
          yShape: outputShape(g),
          groups: [g.Cg, g.Og],
          stride: g.stride,
          tilesPerImage,
          tileCount,
        },
      };
    },
  },
  gemm: {
    kernel: gemmKernel,
    supports: (g) => gemmTapChunk(g) > 0,
    launch(g) {
      const tilesPerRow = Math.ceil(g.OW / gemmKernel.constant('TP'));
      const tileCount = g.N * g.OH * tilesPerRow;
      return {
        invocations: tileCount,
        blocksPerGroup: Math.ceil(g.Og / gemmKernel.constant('CHANNELS')),
        uniforms: { ...windowUniforms(g), dilationH: g.dilation[0], tilesPerRow, tileCount },
        constants: { SW: g.stride[1], DW: g.dilation[1], KWC: gemmTapChunk(g) },
      };
    },
  },
  rows: {
    kernel: rowsKernel,
    supports: () => sharedLoadsRun(),
    launch(g) {
      const rows = g.N * g.OH * g.OW;
      const taps = usedTaps(g);
      return {
        invocations: Math.ceil(rows / rowsKernel.constant('ROWS')),
        blocksPerGroup: Math.ceil(g.Og / rowsKernel.constant('COLS')),
        uniforms: { ...windowUniforms(g), dilation: g.dilation, tapLo: taps.lo, tapHi: taps.hi, rows },
      };
    },
  },
  direct: {
    kernel: directKernel,
    supports: () => true,
    launch(g) {
      const pixelCount = g.N * g.OH * g.OW;
      return {
        invocations: pixelCount,
        blocksPerGroup: Math.ceil(g.Og / directKernel.constant('CHANNELS')),
        uniforms: { ...windowUniforms(g), dilation: g.dilation, pixelCount },
      };
    },
  },
};

/** Whether `variant` takes this geometry, `fused` with a bias, residual or ReLU. */
export function supportsVariant(g: Conv2dGeometry, variant: ForwardVariant, fused = false): boolean {
  return variant === 'dense' ? !fused : forwardKernels[variant].supports(g);
}

/** The fastest variant for this shape (measured on lavapipe; see bench/conv2d.ts). */
export function chooseForwardVariant(g: Conv2dGeometry): ForwardVariant {
  return preferRows(g) ? 'rows' : fallbackForwardVariant(g);
}

/** Where the rows kernel is not preferred (or cannot run without subgroups). */
export function fallbackForwardVariant(g: Conv2dGeometry): ForwardVariant {
  if (supportsVariant(g, '1x1')) return '1x1';
  // gemm beats direct even on the 3-channel 7x7 s2 stem (about 2x: its row reuse matters more than
  // the short channel loop), so direct is only the fallback.
  return supportsVariant(g, 'gemm') ? 'gemm' : 'direct';
}

/** y = act(conv(x, weight) + bias + residual) with the kernel `variant` (checked by the caller). */
export function conv2dForward(x: Tensor, weight: Tensor, g: Conv2dGeometry, e: Epilogue, variant: ForwardVariant): Tensor {
  if (variant === 'dense') return denseForward(x, weight, g);
  const y = empty(outputShape(g), 'float32', 'conv2d');
  const { kernel, launch } = forwardKernels[variant];
  const { invocations, blocksPerGroup, uniforms, constants } = launch(g);
  const wg = fittedWorkgroupSize(invocations);
  dispatch(kernel, {
    workgroups: [
      ...workgroups1d(Math.ceil(invocations / wg)).slice(0, 2),
      zWorkgroups('conv2d', g, { groups: g.groups, 'channel blocks per group': blocksPerGroup }),
    ],
    // Absent bias / residual: bind x in their place; the shader never reads them then.
    buffers: { x, w: weight, bias: e.bias ?? x, residual: e.residual ?? x, y },
    uniforms: { ...uniforms, blocksPerGroup },
    constants: { WG: wg, HAS_BIAS: e.bias ? 1 : 0, HAS_RESIDUAL: e.residual ? 1 : 0, RELU: e.relu ? 1 : 0, ...constants },
  });
  return y;
}
