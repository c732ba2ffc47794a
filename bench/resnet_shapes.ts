/**
 * The distinct convolutions of torchvision's ResNet-18 (stem 7x7/2, max pool 3x3/2, four layers of
 * two BasicBlocks at widths 64..512, a 1x1/2 downsample where a layer halves the map) for one input
 * size, channel count and batch: eleven shapes, each listed once although layers repeat them.
 */
import { conv2dGeometry, type Conv2dGeometry } from '../src/kernels/conv2d/geometry.js';

export interface ResnetInput {
  /** Square input side (48, 64, 224). */
  size: number;
  channels: number;
  batch: number;
}

export interface ConvShape {
  /** Where ResNet-18 runs it, e.g. `layer2 3x3/2 64→128`. */
  name: string;
  x: number[];
  weight: number[];
  stride: number;
  padding: number;
  geometry: Conv2dGeometry;
  /** 3x3 convolutions: the shapes the TF.js forward floor is read on. */
  is3x3: boolean;
}

const WIDTHS = [64, 128, 256, 512];

function shape(name: string, n: number, c: number, side: number, o: number, k: number, stride: number, padding: number): ConvShape {
  const x = [n, c, side, side];
  const weight = [o, c, k, k];
  const geometry = conv2dGeometry(x, weight, { stride, padding });
  return { name, x, weight, stride, padding, geometry, is3x3: k === 3 };
}

export function resnet18Convolutions({ size, channels, batch }: ResnetInput): ConvShape[] {
  const out: ConvShape[] = [];
  const stem = shape(`stem 7x7/2 ${channels}→64`, batch, channels, size, 64, 7, 2, 3);
  out.push(stem);
  // Max pool 3x3, stride 2, padding 1.
  let side = Math.floor((stem.geometry.OH + 2 - 3) / 2) + 1;
  let channelsIn = 64;
  WIDTHS.forEach((width, i) => {
    const layer = `layer${i + 1}`;
    if (channelsIn === width) {
      out.push(shape(`${layer} 3x3 ${width}→${width} @${side}`, batch, width, side, width, 3, 1, 1));
      return;
    }
    const first = shape(`${layer} 3x3/2 ${channelsIn}→${width} @${side}`, batch, channelsIn, side, width, 3, 2, 1);
    out.push(first, shape(`${layer} 1x1/2 ${channelsIn}→${width} @${side}`, batch, channelsIn, side, width, 1, 2, 0));
    side = first.geometry.OH;
    out.push(shape(`${layer} 3x3 ${width}→${width} @${side}`, batch, width, side, width, 3, 1, 1));
    channelsIn = width;
  });
  return out;
}
