// BatchNorm2d's num_batches_tracked += 1, on the GPU so that the int32 count stays exact and in step
// with whatever a state dict loaded into it. Thread mapping: a single invocation. Bounds: one element.

@group(0) @binding(0) var<storage, read_write> count: array<i32>;

@compute @workgroup_size(1)
fn main() {
  count[0] += 1;
}
