/**
 * conv2d forward kernels and the choice between them:
 * - `1x1`: 1×1 kernels without padding (any stride), a matmul over channels;
 * - `gemm`: implicit GEMM with register blocking and input-row reuse across taps, any shape whose
 *   input row segment fits the shader's register array;
 * - `rows`: implicit GEMM over rows flattened across batch and pixels, any shape; for small feature
 *   maps, where `gemm`'s 8-pixel row tiles would leave most lanes idle (needs subgroups of 8 lanes);
 * - `direct`: one pixel per invocation, no reuse, any shape (the fallback).
 * Each applies bias, a residual and ReLU in its store.
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { outputShape, usedTaps, windowUniforms, type Conv2dGeometry } from './geometry.js';
import { conv2dTuning, preferRows } from './tuning.js';
import { SHARED_LANES, sharedLoadsRun } from '../subgroups.js';
import gemmSource from '../../../shaders/conv2d/forward_gemm.wgsl';
import pointwiseSource from '../../../shaders/conv2d/forward_1x1.wgsl';
import directSource from '../../../shaders/conv2d/forward_direct.wgsl';
import rowsSource from '../../../shaders/conv2d/forward_rows.wgsl';

const gemmKernel = new Kernel('conv2d_forward_gemm', gemmSource);
const pointwiseKernel = new Kernel('conv2d_forward_1x1', pointwiseSource);
const directKernel = new Kernel('conv2d_forward_direct', directSource);
const rowsKernel = new Kernel('conv2d_forward_rows', rowsSource);

export type ForwardVariant = '1x1' | 'gemm' | 'rows' | 'direct';

export interface Epilogue {
  bias: Tensor | null;
  residual: Tensor | null;
  relu: boolean;
}

// Must match TP and SEG_MAX in forward_gemm.wgsl, TP in forward_1x1.wgsl and forward_direct.wgsl.
const GEMM_PIXELS = 8;
const GEMM_SEGMENT = 48;
const POINTWISE_PIXELS = 8;
const DIRECT_CHANNELS = 8;
// Must match ROWS and COLS (two groups of SHARED_LANES) in forward_rows.wgsl.
const ROWS_PER_INVOCATION = 4;
const ROWS_COLS = 2 * SHARED_LANES;

/** Taps along W the gemm kernel covers per input-row segment, or 0 when not even one fits. */
function gemmTapChunk(g: Conv2dGeometry): number {
  const [, sw] = g.stride;
  const [, dw] = g.dilation;
  const room = GEMM_SEGMENT - 1 - (GEMM_PIXELS - 1) * sw;
  return room < 0 ? 0 : Math.min(g.kW, Math.floor(room / dw) + 1);
}

export function supportsVariant(g: Conv2dGeometry, variant: ForwardVariant): boolean {
  if (variant === '1x1') return g.kH === 1 && g.kW === 1 && g.padding[0] === 0 && g.padding[1] === 0;
  if (variant === 'gemm') return gemmTapChunk(g) > 0;
  if (variant === 'rows') return sharedLoadsRun();
  return true;
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

function epilogueConstants(e: Epilogue, workgroupSize: number): Record<string, number> {
  return { WG: workgroupSize, HAS_BIAS: e.bias ? 1 : 0, HAS_RESIDUAL: e.residual ? 1 : 0, RELU: e.relu ? 1 : 0 };
}

/** y = act(conv(x, weight) + bias + residual) with the kernel `variant` (checked by the caller). */
export function conv2dForward(x: Tensor, weight: Tensor, g: Conv2dGeometry, e: Epilogue, variant: ForwardVariant): Tensor {
  const y = empty(outputShape(g), 'float32', 'conv2d');
  const wg = conv2dTuning().workgroupSize;
  // Absent bias / residual: bind x in their place; the shader never reads them then.
  const buffers = { x, w: weight, bias: e.bias ?? x, residual: e.residual ?? x, y };
  const constants = epilogueConstants(e, wg);
  const blocks = Math.ceil(g.Og / 4);
  if (variant === '1x1') {
    const tilesImg = Math.ceil((g.OH * g.OW) / POINTWISE_PIXELS);
    const tileCount = g.N * tilesImg;
    dispatch(pointwiseKernel, {
      workgroups: [...workgroups1d(Math.ceil(tileCount / wg)).slice(0, 2), g.groups * blocks],
      buffers,
      uniforms: {
        x_shape: [g.N, g.C, g.H, g.W],
        y_shape: outputShape(g),
        groups: [g.Cg, g.Og],
        stride: g.stride,
        tiles_img: tilesImg,
        blocks_g: blocks,
        tile_count: tileCount,
      },
      constants,
    });
  } else if (variant === 'gemm') {
    const tilesW = Math.ceil(g.OW / GEMM_PIXELS);
    const tileCount = g.N * g.OH * tilesW;
    dispatch(gemmKernel, {
      workgroups: [...workgroups1d(Math.ceil(tileCount / wg)).slice(0, 2), g.groups * blocks],
      buffers,
      uniforms: {
        ...windowUniforms(g),
        dilation_h: g.dilation[0],
        tiles_w: tilesW,
        blocks_g: blocks,
        tile_count: tileCount,
      },
      constants: { ...constants, SW: g.stride[1], DW: g.dilation[1], KWC: gemmTapChunk(g) },
    });
  } else if (variant === 'rows') {
    const rows = g.N * g.OH * g.OW;
    const rowBlocks = Math.ceil(g.Og / ROWS_COLS);
    const taps = usedTaps(g);
    dispatch(rowsKernel, {
      workgroups: [...workgroups1d(Math.ceil(rows / ROWS_PER_INVOCATION / wg)).slice(0, 2), g.groups * rowBlocks],
      buffers,
      uniforms: {
        ...windowUniforms(g),
        dilation: g.dilation,
        tap_lo: taps.lo,
        tap_hi: taps.hi,
        rows,
        blocks_g: rowBlocks,
      },
      constants,
    });
  } else {
    const pixels = g.N * g.OH * g.OW;
    const directBlocks = Math.ceil(g.Og / DIRECT_CHANNELS);
    dispatch(directKernel, {
      workgroups: [...workgroups1d(Math.ceil(pixels / wg)).slice(0, 2), g.groups * directBlocks],
      buffers,
      uniforms: {
        ...windowUniforms(g),
        dilation: g.dilation,
        blocks_g: directBlocks,
        pixel_count: pixels,
      },
      constants,
    });
  }
  return y;
}
