/**
 * Geometric resampling of Float32 [C, H, W] images, as torchvision's tensor transforms do it:
 * rotation about the image centre through grid_sample(align_corners=False) with zero padding, and
 * translation with zero fill (RandomCrop after padding).
 */
export type Shape = readonly [channels: number, height: number, width: number];

export function checkImage(what: string, image: Float32Array, shape: Shape): void {
  const [c, h, w] = shape;
  if (![c, h, w].every((n) => Number.isInteger(n) && n > 0) || image.length !== c * h * w) {
    throw new Error(`${what}: image of ${image.length} values does not match shape [${shape}] (C, H, W)`);
  }
}

/**
 * Rotates by `degrees` counter-clockwise about the centre, as torchvision.transforms.functional.rotate
 * on a tensor (expand=False, fill 0). Output pixel (i, j) reads the source at
 *   x = cos(a) (j + 0.5 - W/2) - sin(a) (i + 0.5 - H/2) + W/2 - 0.5,
 *   y = sin(a) (j + 0.5 - W/2) + cos(a) (i + 0.5 - H/2) + H/2 - 0.5,
 * 'nearest' rounding half to even (torch's nearbyint), 'bilinear' with each out-of-image tap counting
 * as 0 (grid_sample's zero padding).
 */
export function rotate(image: Float32Array, shape: Shape, degrees: number, mode: 'nearest' | 'bilinear' = 'nearest'): Float32Array {
  checkImage('rotate', image, shape);
  if (!Number.isFinite(degrees)) throw new Error(`rotate: angle must be finite, got ${degrees}`);
  const [channels, h, w] = shape;
  const a = (degrees * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const out = new Float32Array(image.length);
  const plane = h * w;
  const at = (c: number, y: number, x: number) => (y >= 0 && y < h && x >= 0 && x < w ? image[c * plane + y * w + x] : 0);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const dx = j + 0.5 - w / 2;
      const dy = i + 0.5 - h / 2;
      const x = cos * dx - sin * dy + w / 2 - 0.5;
      const y = sin * dx + cos * dy + h / 2 - 0.5;
      for (let c = 0; c < channels; c++) {
        let value: number;
        if (mode === 'nearest') {
          value = at(c, roundHalfEven(y), roundHalfEven(x));
        } else {
          const x0 = Math.floor(x);
          const y0 = Math.floor(y);
          const fx = x - x0;
          const fy = y - y0;
          value =
            (1 - fy) * ((1 - fx) * at(c, y0, x0) + fx * at(c, y0, x0 + 1)) +
            fy * ((1 - fx) * at(c, y0 + 1, x0) + fx * at(c, y0 + 1, x0 + 1));
        }
        out[c * plane + i * w + j] = value;
      }
    }
  }
  return out;
}

/** Rounding half to even, as C's nearbyint in the default mode and Python's round(). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** out[y][x] = image[y + dy][x + dx], 0 outside: RandomCrop(size, padding=p) at offset (p + dy, p + dx). */
export function translate(image: Float32Array, shape: Shape, dy: number, dx: number): Float32Array {
  checkImage('translate', image, shape);
  const [channels, h, w] = shape;
  const out = new Float32Array(image.length);
  for (let c = 0; c < channels; c++) {
    for (let y = Math.max(0, -dy); y < Math.min(h, h - dy); y++) {
      const x0 = Math.max(0, -dx);
      const x1 = Math.min(w, w - dx);
      if (x1 <= x0) continue;
      const src = (c * h + y + dy) * w;
      out.set(image.subarray(src + x0 + dx, src + x1 + dx), (c * h + y) * w + x0);
    }
  }
  return out;
}
