// elementwise: out[i] = f(a[i], b[i]) for the function f chosen by the override OP, with NumPy/PyTorch
// broadcasting. Unary functions (EXP, LOG, ...) ignore b; the *_GRAD functions are the local
// derivatives the backward rules multiply into the upstream gradient. GELU is torch's exact form,
// x * Phi(x) with erf evaluated below (WGSL has none); GELU_TANH its tanh approximation. A few
// functions take numbers besides their operands from the uniform `args` (LEAKY_RELU's negative slope,
// CLAMP's bounds), so that a backward rule needs no second operand for them.
//
// Operand layouts (override LAYOUT):
//   BROADCAST  a and b are read through their own strides (0 along broadcast dimensions) from the
//              output's multi-index, up to 8 dimensions (the host merges dimensions that broadcast
//              alike first, so most shapes need 1 to 3).
//   BROADCAST_ROWS  BROADCAST where the innermost dimension's size is a multiple of 4 and each input's
//              stride along it is 1 or 0 (a bias or scale over channels, say): the 4 elements of an
//              invocation then share one innermost row, and each input is one vec4 load or one splat.
//   CONTIGUOUS a, b and out have the same shape: all three are moved as vec4.
//   SCALAR_B   b is the uniform `scalar` (tensor op number, and every unary function).
//   SCALAR_A   a is the uniform `scalar` (number op tensor).
//
// Thread mapping: one invocation per 4 consecutive output elements, stored as one vec4; 256 invocations
// per workgroup; workgroups folded into y past 65535 (linear index wid.x + wid.y * nwg.x). In BROADCAST
// the multi-index of the first of the 4 elements is decomposed once and the next three advance it with
// a carry, so the division chain runs once per invocation rather than per element.
// Bounds: slots < ceil(count / 4). The lanes of the last slot at or past `count` read nothing in
// BROADCAST; in the vec4 layouts they read and write the padding of pooled buffers (whose sizes are
// multiples of 16 bytes and which one tensor owns whole), never another tensor's data.

struct Params {
  count: u32,
  ndim: u32,
  scalar: f32,
  // LEAKY_RELU*: (negative slope, unused); CLAMP*: (min, max), -inf / +inf for a bound not given.
  args: vec2<f32>,
  shape: array<vec4<u32>, 2>,
  aStrides: array<vec4<u32>, 2>,
  bStrides: array<vec4<u32>, 2>,
}

override OP: u32 = 0u;
override LAYOUT: u32 = 0u;

const BROADCAST = 0u;
const CONTIGUOUS = 1u;
const SCALAR_B = 2u;
const SCALAR_A = 3u;
const BROADCAST_ROWS = 4u;

const ADD = 0u;
const SUB = 1u;
const MUL = 2u;
const DIV = 3u;
const POW = 4u;
// 1 where a == b, NaN matching NaN (the ties of max's gradient, as torch's).
const EQ = 5u;
const EXP = 6u;
const LOG = 7u;
const SQRT = 8u;
const RELU = 9u;
const SIGMOID = 10u;
const TANH = 11u;
// d(a / b)/db = -a / b^2.
const DIV_GRAD_B = 12u;
// d(a^b)/da = b * a^(b - 1), 0 where b == 0 (PyTorch's mask).
const POW_GRAD_BASE = 13u;
// d(a^b)/db = a^b * ln(a), 0 where a == 0 and b >= 0 (PyTorch's mask).
const POW_GRAD_EXP = 14u;
// The next four take (upstream gradient, forward output y).
const RELU_GRAD = 15u;
const SIGMOID_GRAD = 16u;
const TANH_GRAD = 17u;
const SQRT_GRAD = 18u;
// x * Phi(x) = x / 2 * (1 + erf(x / sqrt(2))).
const GELU = 19u;
// x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))).
const GELU_TANH = 20u;
// These two take (upstream gradient, forward input x).
const GELU_GRAD = 21u;
const GELU_TANH_GRAD = 22u;
const ERF = 23u;
// d erf(a)/da = 2 / sqrt(pi) * exp(-a^2), taking (upstream gradient, forward input).
const ERF_GRAD = 24u;
// a if a > 0 else args.x * a (NaN passes through).
const LEAKY_RELU = 25u;
// Takes (upstream gradient, forward input x): the gradient where x > 0, else args.x times it (at
// x == 0 too, as torch's leaky_relu_backward).
const LEAKY_RELU_GRAD = 26u;
// a limited to [args.x, args.y] (NaN passes through, as torch.clamp's).
const CLAMP = 27u;
// Takes (upstream gradient, forward input x): the gradient where args.x <= x <= args.y (bounds
// included, as torch's clamp_backward), else 0 (also where x is NaN).
const CLAMP_GRAD = 28u;

const SQRT_HALF = 0.70710678118654752;
// 1 / sqrt(2 pi), the standard normal density at 0.
const NORMAL_DENSITY_AT_0 = 0.39894228040143268;
const SQRT_TWO_OVER_PI = 0.79788456080286536;
const TWO_OVER_SQRT_PI = 1.1283791670955126;
const GELU_TANH_CUBIC = 0.044715;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

// By bits: compilers may assume v != v is false.
fn isNan(v: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}

// x^e with PyTorch's semantics where WGSL's pow is undefined: x^0 = 1 (also for x = 0), negative x
// with an integer exponent (sign from its parity); a negative x with a fractional exponent gives NaN
// through log2 of a negative number. x^2, the common case, is exact.
fn power(x: vec4<f32>, e: vec4<f32>) -> vec4<f32> {
  let integer = fract(e) == vec4<f32>(0.0);
  let magnitude = exp2(e * log2(select(x, abs(x), integer)));
  let odd = integer & (fract(e * 0.5) != vec4<f32>(0.0));
  var r = select(magnitude, -magnitude, odd & (x < vec4<f32>(0.0)));
  r = select(r, x * x, e == vec4<f32>(2.0));
  return select(r, vec4<f32>(1.0), e == vec4<f32>(0.0));
}

// erf to about one ulp: max |error| 6e-8 against a float64 erf on [-6, 6] (Abramowitz-Stegun 7.1.26,
// at 1.5e-7, is not float32-accurate). N. Juffa's float32 minimax fits: below |x| = 0.927734375,
// x + x * P(x^2); above, 1 - exp(Q(|x|)) with the sign of x, so that erf near +-1 never comes from a
// difference of nearly equal numbers. |x| is clamped at 4 in Q (erf(4) rounds to 1 in f32), which
// keeps the polynomial finite for huge inputs.
fn erf(x: vec4<f32>) -> vec4<f32> {
  let t = abs(x);
  let s = x * x;
  var small = vec4<f32>(-5.96761703e-4);
  small = fma(small, s, vec4<f32>(4.99119423e-3));
  small = fma(small, s, vec4<f32>(-2.67681349e-2));
  small = fma(small, s, vec4<f32>(1.12819925e-1));
  small = fma(small, s, vec4<f32>(-3.76125336e-1));
  small = fma(small, s, vec4<f32>(1.28379166e-1));
  small = fma(small, x, x);
  let u = min(t, vec4<f32>(4.0));
  var q = fma(vec4<f32>(-1.72853470e-5), u, vec4<f32>(3.83197126e-4));
  let q2 = fma(vec4<f32>(-3.88396438e-3), u, vec4<f32>(2.42546219e-2));
  q = fma(q, u * u, q2);
  q = fma(q, u, vec4<f32>(-1.06777877e-1));
  q = fma(q, u, vec4<f32>(-6.34846687e-1));
  q = fma(q, u, vec4<f32>(-1.28717512e-1));
  q = fma(q, u, -u);
  let large = sign(x) * (1.0 - exp(q));
  return select(small, large, t > vec4<f32>(0.927734375));
}

// tanh(sqrt(2 / pi) * (x + 0.044715 x^3)), the tanh approximation's stand-in for erf(x / sqrt(2)),
// clamped as TANH is.
fn geluTanhInner(x: vec4<f32>) -> vec4<f32> {
  let inner = SQRT_TWO_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x);
  return tanh(clamp(inner, vec4<f32>(-10.0), vec4<f32>(10.0)));
}

fn apply(x: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
  let zero = vec4<f32>(0.0);
  let one = vec4<f32>(1.0);
  switch OP {
    case ADD: { return x + y; }
    case SUB: { return x - y; }
    case MUL: { return x * y; }
    case DIV: { return x / y; }
    case POW: { return power(x, y); }
    case EQ: { return select(zero, one, (x == y) | (isNan(x) & isNan(y))); }
    case EXP: { return exp(x); }
    case LOG: { return log(x); }
    case SQRT: { return sqrt(x); }
    // select rather than max: NaN passes through as in PyTorch.
    case RELU: { return select(x, zero, x < zero); }
    case SIGMOID: { return one / (one + exp(-x)); }
    // tanh saturates to +-1 in f32 beyond |x| = 9.1; clamping keeps the builtin away from the range
    // where implementations built on exp overflow to inf / inf.
    case TANH: { return tanh(clamp(x, vec4<f32>(-10.0), vec4<f32>(10.0))); }
    case DIV_GRAD_B: { return -x / (y * y); }
    case POW_GRAD_BASE: { return select(y * power(x, y - one), zero, y == zero); }
    case POW_GRAD_EXP: { return select(power(x, y) * log(x), zero, (x == zero) & (y >= zero)); }
    case RELU_GRAD: { return select(zero, x, y > zero); }
    case SIGMOID_GRAD: { return x * (one - y) * y; }
    case TANH_GRAD: { return x * (one - y * y); }
    case SQRT_GRAD: { return x / (2.0 * y); }
    case ERF: { return erf(x); }
    case ERF_GRAD: { return x * TWO_OVER_SQRT_PI * exp(-y * y); }
    case GELU: { return 0.5 * x * (one + erf(x * SQRT_HALF)); }
    case GELU_TANH: { return 0.5 * x * (one + geluTanhInner(x)); }
    case LEAKY_RELU: { return select(params.args.x * x, x, x > zero); }
    case LEAKY_RELU_GRAD: { return select(params.args.x * x, x, y > zero); }
    // select rather than min / max, which need not pass NaN.
    case CLAMP: {
      let low = select(x, vec4<f32>(params.args.x), x < vec4<f32>(params.args.x));
      return select(low, vec4<f32>(params.args.y), low > vec4<f32>(params.args.y));
    }
    case CLAMP_GRAD: {
      return select(zero, x, (y >= vec4<f32>(params.args.x)) & (y <= vec4<f32>(params.args.y)));
    }
    // d/dx x Phi(x) = Phi(x) + x phi(x).
    case GELU_GRAD: {
      let cdf = 0.5 * (one + erf(y * SQRT_HALF));
      return x * (cdf + y * NORMAL_DENSITY_AT_0 * exp(-0.5 * y * y));
    }
    case GELU_TANH_GRAD: {
      let th = geluTanhInner(y);
      let innerSlope = SQRT_TWO_OVER_PI * (one + 3.0 * GELU_TANH_CUBIC * y * y);
      return x * (0.5 * (one + th) + 0.5 * y * (one - th * th) * innerSlope);
    }
    default: { return zero; }
  }
}

fn dimension(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let slot = (wid.x + wid.y * nwg.x) * 256u + lid;
  let first = slot * 4u;
  if (first >= params.count) {
    return;
  }
  let s = vec4<f32>(params.scalar);
  if (LAYOUT == CONTIGUOUS) {
    out[slot] = apply(a[slot], b[slot]);
    return;
  }
  if (LAYOUT == SCALAR_B) {
    out[slot] = apply(a[slot], s);
    return;
  }
  if (LAYOUT == SCALAR_A) {
    out[slot] = apply(s, b[slot]);
    return;
  }

  let ndim = params.ndim;
  var index: array<u32, 8>;
  var rest = first;
  var offsetA = 0u;
  var offsetB = 0u;
  for (var d = ndim; d > 0u; d--) {
    let size = dimension(params.shape, d - 1u);
    index[d - 1u] = rest % size;
    rest /= size;
    offsetA += index[d - 1u] * dimension(params.aStrides, d - 1u);
    offsetB += index[d - 1u] * dimension(params.bStrides, d - 1u);
  }
  if (LAYOUT == BROADCAST_ROWS) {
    var x = vec4<f32>(a[offsetA / 4u][offsetA % 4u]);
    var y = vec4<f32>(b[offsetB / 4u][offsetB % 4u]);
    // A stride of 1 along a row whose length is a multiple of 4 makes the offset a multiple of 4.
    if (dimension(params.aStrides, ndim - 1u) == 1u) {
      x = a[offsetA / 4u];
    }
    if (dimension(params.bStrides, ndim - 1u) == 1u) {
      y = b[offsetB / 4u];
    }
    out[slot] = apply(x, y);
    return;
  }
  var x = vec4<f32>(0.0);
  var y = vec4<f32>(0.0);
  let lanes = min(4u, params.count - first);
  for (var k = 0u; k < lanes; k++) {
    x[k] = a[offsetA / 4u][offsetA % 4u];
    y[k] = b[offsetB / 4u][offsetB % 4u];
    // Advance the multi-index by one element, carrying into outer dimensions.
    for (var d = ndim; d > 0u; d--) {
      let size = dimension(params.shape, d - 1u);
      let strideA = dimension(params.aStrides, d - 1u);
      let strideB = dimension(params.bStrides, d - 1u);
      index[d - 1u] += 1u;
      offsetA += strideA;
      offsetB += strideB;
      if (index[d - 1u] < size) {
        break;
      }
      index[d - 1u] = 0u;
      offsetA -= size * strideA;
      offsetB -= size * strideB;
    }
  }
  out[slot] = apply(x, y);
}
