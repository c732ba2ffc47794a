/**
 * The source-pixels-per-output-pixel factor of one axis of bilinear resampling, as PyTorch's
 * area_pixel_compute_scale (float32, like PyTorch's float kernels), shared by `interpolate` and the
 * fusion kernel so that both resample exactly alike.
 */
export function axisScale(inSize: number, outSize: number, alignCorners: boolean, scaleFactor?: number): number {
  // PyTorch's CPU kernel copies an axis whose sizes are equal, whatever the scale factor; scale 1 makes
  // the shader's index rule that copy.
  if (inSize === outSize) return 1;
  if (alignCorners) return outSize > 1 ? Math.fround(Math.fround(inSize - 1) / (outSize - 1)) : 0;
  return scaleFactor !== undefined && scaleFactor > 0 ? Math.fround(1 / scaleFactor) : Math.fround(inSize / outSize);
}
