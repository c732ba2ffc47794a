/**
 * PCNN's registration by cross-attention: an option of ours (`PCNN({ registration: 'attention' })`,
 * `--registration attention`), not the paper's. The paper registers the reassembled local map x10 onto the
 * global map x1 with a spatial transformer (fc_loc → theta → affine_grid + grid_sample), which collapses
 * in most runs: theta leaves the map in the first epoch and x11 ≈ 0
 * (../shared/notes/pcnn-reference-behaviour.md). Here each position of x1 attends to the positions of x10:
 *
 *   tokens      x1 and x10 [N, C, gh, gw] read as [N, gh·gw, C] (row-major positions)
 *   position    a learned 2-D encoding pos[r, c] = row_embed[r] + col_embed[c] (DETR's learned encoding,
 *               summed rather than concatenated so that it has C channels; uniform [0, 1) init as DETR)
 *   attention   nn.MultiheadAttention(C, 4 heads), query x1 + pos, key x10 + pos, value x10 (the position
 *               on queries and keys only, as DETR)
 *   x11         its output back on the grid [N, C, gh, gw], which the model adds to x1 as it adds the
 *               spatial transformer's x11
 *
 * State-dict names: attention_registration.attention.{in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias},
 * attention_registration.row_embed [gh, C] and .col_embed [gw, C] (not 'registration.': checkpoints keep
 * the paper model's per-input layer4 statistics under that prefix). Everything else of PCNN keeps its names;
 * fc_loc does not exist in this variant, and layer4 runs once (there is no pass on x10 to compute theta).
 */
import { Module } from '../nn/module.js';
import { MultiheadAttention } from '../nn/attention.js';
import { add } from '../kernels/elementwise/index.js';
import { permute, reshape } from '../kernels/shape/index.js';
import { rand, type Tensor } from '../engine/tensor.js';

/** Attention heads of the registration (C = 4w is a multiple of 4 at every width). */
export const REGISTRATION_HEADS = 4;

export interface Registered {
  /** x10 registered onto x1's positions, [N, C, gh, gw]. */
  x11: Tensor;
  /** Head-averaged attention weights [N, gh·gw (x1's positions), gh·gw (x10's)] when asked for, else null. */
  weights: Tensor | null;
}

export class CrossAttentionRegistration extends Module {
  readonly attention: MultiheadAttention;
  readonly rowEmbed: Tensor;
  readonly colEmbed: Tensor;

  constructor(readonly channels: number, readonly grid: readonly [number, number]) {
    super();
    const [gh, gw] = grid;
    this.attention = this.registerModule('attention', new MultiheadAttention(channels, REGISTRATION_HEADS, { batchFirst: true }));
    this.rowEmbed = this.registerParameter('row_embed', rand([gh, channels]));
    this.colEmbed = this.registerParameter('col_embed', rand([gw, channels]));
  }

  /** x1 (queries) and x10 (keys, values), both [N, C, gh, gw]. */
  forward(x1: Tensor, x10: Tensor, { needWeights = false } = {}): Registered {
    const [n, c, gh, gw] = x1.shape;
    if (c !== this.channels || gh !== this.grid[0] || gw !== this.grid[1] || x10.shape.join() !== x1.shape.join()) {
      throw new Error(
        `PCNN registration: x1 and x10 must both be [N, ${this.channels}, ${this.grid.join(', ')}], got x1 [${x1.shape}] and x10 [${x10.shape}]`,
      );
    }
    const tokens = (map: Tensor) => reshape(permute(map, [0, 2, 3, 1]), [n, gh * gw, c]);
    const position = reshape(add(reshape(this.rowEmbed, [gh, 1, c]), reshape(this.colEmbed, [1, gw, c])), [gh * gw, c]);
    const local = tokens(x10);
    const [out, weights] = this.attention.forward(add(tokens(x1), position), add(local, position), local, { needWeights });
    return { x11: permute(reshape(out, [n, gh, gw, c]), [0, 3, 1, 2]), weights };
  }
}
