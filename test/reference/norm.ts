// Float64 reference for layer normalisation: PyTorch's F.layer_norm over contiguous rows of `size`
// elements (biased variance, eps inside the square root, optional per-position weight and bias).
export function layerNormRef(
  x: Float64Array,
  size: number,
  weight: Float64Array | null,
  bias: Float64Array | null,
  eps = 1e-5,
): Float64Array {
  const out = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += size) {
    let mean = 0;
    for (let c = 0; c < size; c++) mean += x[base + c];
    mean /= size;
    let variance = 0;
    for (let c = 0; c < size; c++) variance += (x[base + c] - mean) ** 2;
    variance /= size;
    const scale = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < size; c++) {
      out[base + c] = (x[base + c] - mean) * scale * (weight ? weight[c] : 1) + (bias ? bias[c] : 0);
    }
  }
  return out;
}
