/**
 * Shape arithmetic and argument checks of conv2d, shared by the forward and both backward kernels.
 * Semantics are torch.nn.functional.conv2d's: x [N, C, H, W], weight [O, C / groups, kH, kW],
 * OH = floor((H + 2·ph − dh·(kH − 1) − 1) / sh) + 1, likewise OW.
 */
import type { Constants, Uniforms } from '../../engine/kernel.js';
import { gpu } from '../../engine/device.js';

export type Pair = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

export interface Conv2dGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  OH: number;
  OW: number;
  kH: number;
  kW: number;
  groups: number;
  /** Input channels per group (weightShape[1]). */
  Cg: number;
  /** Output channels per group. */
  Og: number;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
}

function pair(value: Pair, name: string, min: number): [number, number] {
  const p: [number, number] = typeof value === 'number' ? [value, value] : [value[0], value[1]];
  if ((typeof value !== 'number' && value.length !== 2) || p.some((v) => !Number.isInteger(v) || v < min)) {
    throw new Error(`conv2d: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(value)}`);
  }
  return p;
}

/** Checks the shapes of x and weight against the options and returns the sizes every kernel needs. */
export function conv2dGeometry(
  xShape: readonly number[],
  weightShape: readonly number[],
  options: Conv2dOptions = {},
): Conv2dGeometry {
  const stride = pair(options.stride ?? 1, 'stride', 1);
  const padding = pair(options.padding ?? 0, 'padding', 0);
  const dilation = pair(options.dilation ?? 1, 'dilation', 1);
  const groups = options.groups ?? 1;
  if (xShape.length !== 4) throw new Error(`conv2d: expected a 4-D input (N, C, H, W), got shape [${xShape}]`);
  if (weightShape.length !== 4) {
    throw new Error(`conv2d: expected a 4-D weight (O, C / groups, kH, kW), got shape [${weightShape}]`);
  }
  const [N, C, H, W] = xShape;
  const [O, Cg, kH, kW] = weightShape;
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0 || O % groups !== 0) {
    throw new Error(
      `conv2d: groups = ${groups} must be a positive integer dividing both the input channels (${C}) ` +
        `and the output channels (${O}); input [${xShape}], weight [${weightShape}]`,
    );
  }
  if (Cg * groups !== C) {
    throw new Error(
      `conv2d: input [${xShape}] has ${C} channels but weight [${weightShape}] expects ` +
        `${Cg} × groups (${groups}) = ${Cg * groups}`,
    );
  }
  const spanH = dilation[0] * (kH - 1) + 1;
  const spanW = dilation[1] * (kW - 1) + 1;
  if (kH < 1 || kW < 1 || spanH > H + 2 * padding[0] || spanW > W + 2 * padding[1]) {
    throw new Error(
      `conv2d: kernel [${kH}, ${kW}] with dilation [${dilation}] spans ${spanH}×${spanW}, larger than the ` +
        `padded input ${H + 2 * padding[0]}×${W + 2 * padding[1]} (input [${xShape}], padding [${padding}])`,
    );
  }
  const OH = Math.floor((H + 2 * padding[0] - spanH) / stride[0]) + 1;
  const OW = Math.floor((W + 2 * padding[1] - spanW) / stride[1]) + 1;
  return { N, C, H, W, O, OH, OW, kH, kW, groups, Cg, Og: O / groups, stride, padding, dilation };
}

export function outputShape(g: Conv2dGeometry): number[] {
  return [g.N, g.O, g.OH, g.OW];
}

/** The uniform fields every windowed conv2d shader declares: input and output shapes, window, stride and padding. */
export function windowUniforms(g: Conv2dGeometry) {
  return {
    xShape: [g.N, g.C, g.H, g.W],
    yShape: outputShape(g),
    window: [g.kH, g.kW, g.Cg, g.Og],
    stridePad: [g.stride[0], g.stride[1], g.padding[0], g.padding[1]],
  };
}

/** How a forward or backward-data kernel covers one geometry: `invocations` along x and y of the grid
 *  (folded past 65535 workgroups), `blocksPerGroup` channel blocks per group along z (also a uniform of
 *  each of these shaders), and the uniforms and override constants particular to the kernel. */
export interface ChannelBlockLaunch {
  invocations: number;
  blocksPerGroup: number;
  uniforms: Uniforms;
  constants?: Constants;
}

/**
 * The workgroup count along z of a conv2d launch, the product of `factors` (named for the error: groups,
 * channel blocks per group, stride phases, chunks). The shaders take the group and channel block from
 * wid.z alone, so a grid past the device's per-dimension limit (a depthwise conv of 70,000 channels) is
 * refused here, naming the op, the shapes and the limit, instead of failing at dispatch with bare counts.
 */
export function zWorkgroups(op: string, g: Conv2dGeometry, factors: Record<string, number>): number {
  const count = Object.values(factors).reduce((a, b) => a * b, 1);
  const limit = gpu().limits.maxComputeWorkgroupsPerDimension;
  if (count > limit) {
    const product = Object.entries(factors).map(([what, n]) => `${what} (${n})`).join(' × ');
    throw new Error(
      `${op}: ${product} = ${count} workgroups along z, more than the device's maxComputeWorkgroupsPerDimension ` +
        `(${limit}); input [${g.N},${g.C},${g.H},${g.W}], weight [${g.O},${g.Cg},${g.kH},${g.kW}], groups ${g.groups}: ` +
        `split the channels into convolutions of fewer groups`,
    );
  }
  return count;
}

/** Multiply-adds of one forward pass (each backward pass does as many). */
export function conv2dMacs(g: Conv2dGeometry): number {
  return g.N * g.O * g.OH * g.OW * g.Cg * g.kH * g.kW;
}

/**
 * The taps [lo, hi) along one axis that land inside the input for at least one output position:
 * tap k is used iff k·d ∈ [p − (out − 1)·s, size − 1 + p]. On maps as small as the kernel (1×2 under a
 * 3×3 window) most taps read only padding, and kernels over flattened rows skip them whole.
 */
function usedTapRange(size: number, out: number, k: number, s: number, p: number, d: number): [number, number] {
  const lo = Math.max(0, Math.ceil((p - (out - 1) * s) / d));
  const hi = Math.min(k, Math.floor((size - 1 + p) / d) + 1);
  return [lo, hi];
}

/** Used taps along H and along W: { lo: [kh, kw], hi: [kh, kw] } (half-open). */
export function usedTaps(g: Conv2dGeometry): { lo: [number, number]; hi: [number, number] } {
  const h = usedTapRange(g.H, g.OH, g.kH, g.stride[0], g.padding[0], g.dilation[0]);
  const w = usedTapRange(g.W, g.OW, g.kW, g.stride[1], g.padding[1], g.dilation[1]);
  return { lo: [h[0], w[0]], hi: [h[1], w[1]] };
}
