/**
 * The kernel cases of the suite, each as our op and, where TF.js has the same computation, its peer on
 * the same shapes. TF.js runs its native NHWC layout (filters HWIO): the arithmetic and the bytes are
 * the same as ours in NCHW. Inputs are made once per case, outside the timed runs.
 */
import { randn, tensor, ones, zeros } from '../src/engine/tensor.js';
import { matmul } from '../src/kernels/matmul/index.js';
import { conv2d, conv2dBackwardData, conv2dBackwardWeight, conv2dMacs } from '../src/kernels/conv2d/index.js';
import { outputShape } from '../src/kernels/conv2d/geometry.js';
import { batchNorm2d } from '../src/kernels/batchnorm/index.js';
import { maxPool2d } from '../src/kernels/pool/index.js';
import { interpolate, affineGrid, gridSample } from '../src/kernels/resample/index.js';
import type { Tfjs } from './tfjs.js';
import type { ConvShape } from './resnet_shapes.js';
import type * as TF from '@tensorflow/tfjs';

export type Group = 'matmul' | 'conv2d forward' | 'conv2d backward data' | 'conv2d backward weight' | 'memory';

/** A computation ready to time: `run` records it once; `dispose` frees its inputs. */
export interface Prepared<T> {
  run: () => T;
  dispose: () => void;
}

export interface KernelCase {
  group: Group;
  /** Which ResNet-18 input the shape belongs to (conv2d), else ''. */
  config: string;
  name: string;
  /** Floating-point operations (2 per multiply-add) of compute-bound cases. */
  flop?: number;
  /** Compulsory traffic of memory-bound cases: the input read once and the output written once. */
  bytes?: number;
  /** Marks the 3x3 convolutions, on which the TF.js forward floor is read. */
  is3x3?: boolean;
  ours: () => Prepared<unknown>;
  theirs?: (tf: Tfjs) => Prepared<TF.Tensor>;
}

function disposer(...tensors: { dispose(): void }[]): () => void {
  return () => tensors.forEach((t) => t.dispose());
}

type Shape4 = [number, number, number, number];
const nhwc = ([n, c, h, w]: readonly number[]): Shape4 => [n, h, w, c];
const hwio = ([o, c, kh, kw]: readonly number[]): Shape4 => [kh, kw, c, o];
const normal4 = (tf: Tfjs, shape: Shape4) => tf.randomNormal(shape) as TF.Tensor4D;

export function matmulCase(m: number, k: number, n: number): KernelCase {
  return {
    group: 'matmul',
    config: '',
    name: `matmul ${m}x${k} · ${k}x${n}`,
    flop: 2 * m * k * n,
    ours: () => {
      const a = randn([m, k]);
      const b = randn([k, n]);
      return { run: () => matmul(a, b), dispose: disposer(a, b) };
    },
    theirs: (tf) => {
      const a = tf.randomNormal([m, k]);
      const b = tf.randomNormal([k, n]);
      return { run: () => tf.matMul(a, b), dispose: disposer(a, b) };
    },
  };
}

type TfPadding = 'valid' | [[number, number], [number, number], [number, number], [number, number]];
const tfPadding = (p: number): TfPadding => (p === 0 ? 'valid' : [[0, 0], [p, p], [p, p], [0, 0]]);

/** Forward, gradient wrt the input and gradient wrt the weight of one convolution shape. */
export function convCases(config: string, s: ConvShape): KernelCase[] {
  const options = { stride: s.stride, padding: s.padding };
  const dyShape = outputShape(s.geometry);
  const pad = tfPadding(s.padding);
  const common = { config, flop: 2 * conv2dMacs(s.geometry), is3x3: s.is3x3 };
  return [
    {
      ...common,
      group: 'conv2d forward',
      name: `${s.name} fwd`,
      ours: () => {
        const x = randn(s.x);
        const w = randn(s.weight);
        return { run: () => conv2d(x, w, null, options), dispose: disposer(x, w) };
      },
      theirs: (tf) => {
        const x = normal4(tf, nhwc(s.x));
        const w = normal4(tf, hwio(s.weight));
        return { run: () => tf.conv2d(x, w, s.stride, pad), dispose: disposer(x, w) };
      },
    },
    {
      ...common,
      group: 'conv2d backward data',
      name: `${s.name} bwd data`,
      ours: () => {
        const dy = randn(dyShape);
        const w = randn(s.weight);
        return { run: () => conv2dBackwardData(dy, w, s.x, options), dispose: disposer(dy, w) };
      },
      theirs: (tf) => {
        const dy = normal4(tf, nhwc(dyShape));
        const w = normal4(tf, hwio(s.weight));
        // conv2dTranspose is TF.js's Conv2DBackpropInput kernel, the gradient tf.grad uses for conv2d.
        return { run: () => tf.conv2dTranspose(dy, w, nhwc(s.x), s.stride, pad as never), dispose: disposer(dy, w) };
      },
    },
    {
      ...common,
      group: 'conv2d backward weight',
      name: `${s.name} bwd weight`,
      ours: () => {
        const x = randn(s.x);
        const dy = randn(dyShape);
        return { run: () => conv2dBackwardWeight(x, dy, s.weight, options), dispose: disposer(x, dy) };
      },
      theirs: (tf) => {
        const x = normal4(tf, nhwc(s.x));
        const dy = normal4(tf, nhwc(dyShape));
        // The kernel tf.grad runs for conv2d's filter gradient, called directly (no forward pass).
        const attrs = { strides: s.stride, pad, dataFormat: 'NHWC', filterShape: hwio(s.weight) };
        return {
          run: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as never) as TF.Tensor,
          dispose: disposer(x, dy),
        };
      },
    },
  ];
}

const bytesOf = (...shapes: number[][]) => 4 * shapes.reduce((sum, s) => sum + s.reduce((a, b) => a * b, 1), 0);

/** batchNorm2d (training: batch statistics, running-stat update, normalisation), maxPool2d, bilinear
 *  interpolate and gridSample on the activations of ResNet-18's stem at 224 with batch 8. */
export function memoryCases(): KernelCase[] {
  const stem = [8, 64, 112, 112];
  const pooled = [8, 64, 56, 56];
  const up = [8, 64, 112, 112];
  const grid = [8, 56, 56, 2];
  // A 10° rotation with a slight zoom: samples land between pixels and some outside the map.
  const angle = (10 * Math.PI) / 180;
  const theta = [0.9 * Math.cos(angle), -0.9 * Math.sin(angle), 0.05, 0.9 * Math.sin(angle), 0.9 * Math.cos(angle), -0.05];
  return [
    {
      group: 'memory',
      config: '',
      name: `batchNorm2d train [${stem}]`,
      bytes: bytesOf(stem, stem),
      ours: () => {
        const x = randn(stem);
        const [mean, variance, weight, bias] = [zeros([64]), ones([64]), ones([64]), zeros([64])];
        return {
          run: () => batchNorm2d(x, mean, variance, weight, bias, { training: true }),
          dispose: disposer(x, mean, variance, weight, bias),
        };
      },
      theirs: (tf) => {
        const x = normal4(tf, nhwc(stem));
        const [scale, offset] = [tf.ones([64]), tf.zeros([64])];
        return {
          run: () => {
            const { mean, variance } = tf.moments(x, [0, 1, 2]);
            return tf.batchNorm(x, mean, variance, offset, scale, 1e-5);
          },
          dispose: disposer(x, scale, offset),
        };
      },
    },
    {
      group: 'memory',
      config: '',
      name: `maxPool2d 3x3/2 [${stem}]`,
      bytes: bytesOf(stem, pooled),
      ours: () => {
        const x = randn(stem);
        return { run: () => maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }), dispose: disposer(x) };
      },
      theirs: (tf) => {
        const x = normal4(tf, nhwc(stem));
        return { run: () => tf.maxPool(x, 3, 2, 1), dispose: disposer(x) };
      },
    },
    {
      group: 'memory',
      config: '',
      name: `interpolate bilinear x2 [${pooled}]`,
      bytes: bytesOf(pooled, up),
      ours: () => {
        const x = randn(pooled);
        return { run: () => interpolate(x, { size: [112, 112], alignCorners: true }), dispose: disposer(x) };
      },
      theirs: (tf) => {
        const x = normal4(tf, nhwc(pooled));
        return { run: () => tf.image.resizeBilinear(x, [112, 112], true), dispose: disposer(x) };
      },
    },
    {
      group: 'memory',
      config: '',
      name: `gridSample bilinear [${pooled}]`,
      bytes: bytesOf(pooled, grid, pooled),
      ours: () => {
        const x = randn(pooled);
        const thetas = tensor(Array.from({ length: 8 }, () => theta).flat(), [8, 2, 3]);
        const g = affineGrid(thetas, pooled, { alignCorners: false });
        thetas.dispose();
        return { run: () => gridSample(x, g, { paddingMode: 'zeros' }), dispose: disposer(x, g) };
      },
      // TF.js has no grid_sample; image.transform (bilinear, constant fill) samples an affine map per
      // pixel, the same gather, with its coordinates computed in the kernel instead of read from a grid.
      theirs: (tf) => {
        const x = normal4(tf, nhwc(pooled));
        const [a0, a1, , b0, b1] = theta;
        const transforms = tf.tensor2d(Array.from({ length: 8 }, () => [a0, a1, 2, b0, b1, 2, 0, 0]), [8, 8]);
        return { run: () => tf.image.transform(x, transforms, 'bilinear', 'constant', 0), dispose: disposer(x, transforms) };
      },
    },
  ];
}
