// Float64 references for GELU: erf from its everywhere-positive series
//   erf(x) = 2x / sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n / (1 * 3 * ... * (2n + 1)),
// whose terms never cancel (unlike the Taylor series), accurate to ~1e-16 for |x| <= 6 (and erf = +-1
// to double precision beyond).
export function erf64(x: number): number {
  const a = Math.abs(x);
  if (a > 6) return Math.sign(x);
  let term = 1;
  let sum = 1;
  for (let n = 1; n < 1000 && term > 1e-18 * sum; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return ((Math.sign(x) * 2 * a) / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

/** torch.nn.functional.gelu(x, approximate=...). */
export function gelu64(x: number, approximate: 'none' | 'tanh' = 'none'): number {
  if (approximate === 'tanh') return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  return 0.5 * x * (1 + erf64(x / Math.SQRT2));
}
