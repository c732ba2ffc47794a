// dropout: out[i] = x[i] * keep(i), PyTorch's dropout: each element zeroed with probability p, the
// others scaled by keepScale = 1 / (1 - p) (0 for p = 1). keep(i) is a counter-based hash of (seed, i)
// (PCG's output permutation): the element is kept when the top DROPOUT_BITS bits of
// pcgHash(pcgHash(seed) ^ pcgHash(i)) are at least `threshold` = round(p * 2^DROPOUT_BITS); the index is
// hashed before it meets the seed, so that two calls' masks are not shifted copies of one another (as
// pcgHash(key + i) would be for keys d < count apart). Nothing is stored:
// the backward runs this same kernel on the output gradient with the same seed, which recomputes the
// mask (the op is linear in x for a fixed mask).
//
// Thread mapping: one invocation per 4 consecutive elements (vec4 loads and stores), 256 invocations
// per workgroup, workgroups folded into y past 65535 (linear index wid.x + wid.y * nwg.x).
// Bounds: slots < ceil(count / 4); the lanes of the last slot past `count` read and write the padding of
// the pooled buffers (sizes multiples of 16 bytes, each owned whole by one tensor).

struct Params {
  count: u32,
  seed: u32,
  threshold: u32,
  keepScale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

/** The top bits of an element's hash compared with the threshold. */
const DROPOUT_BITS = 24u;

// <pcg-hash> (identical in every hashed-dropout shader; a test checks it)
/** PCG's state step and output permutation (Jarzynski & Olano 2020): a well-mixed bijection of u32. */
fn pcgHash(bits: u32) -> u32 {
  let state = bits * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
// </pcg-hash>

fn keep(key: u32, i: u32) -> f32 {
  return select(0.0, params.keepScale, (pcgHash(key ^ pcgHash(i)) >> (32u - DROPOUT_BITS)) >= params.threshold);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let slot = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (slot * 4u >= params.count) {
    return;
  }
  let key = pcgHash(params.seed);
  let i = slot * 4u;
  out[slot] = x[slot] * vec4<f32>(keep(key, i), keep(key, i + 1u), keep(key, i + 2u), keep(key, i + 3u));
}
