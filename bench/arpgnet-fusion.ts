// ARPGNet's fusion attention: GATConv over the fusion graph (CSR, segment softmax) against multi-head SDPA
// with the graph's adjacency as a boolean mask, on the fusion graph of ARPGNet (2T nodes per clip, temporal
// and cross edges, self-loops), one layer as the model runs it (h <- ReLU(A(h) + h)): forward, and
// forward + backward (the training step's share), wall time per call after warm-up (median), dispatches.
// node scripts/run.mjs bench/arpgnet-fusion.ts [clips=32] [dim=64] [heads=4] [repeats=20] [T...=3 16]
import { init } from '../src/engine/device.js';
import { recorder, flush } from '../src/engine/recorder.js';
import { noGrad } from '../src/engine/autograd.js';
import { tidy } from '../src/engine/scope.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { manualSeed } from '../src/engine/random.js';
import { GATConv } from '../src/nn/gat.js';
import { add, relu } from '../src/kernels/elementwise/index.js';
import { sum } from '../src/kernels/reduce/index.js';
import { attentionGraph } from '../src/kernels/graph/index.js';
import { GraphSelfAttention } from '../src/arpgnet/model.js';
import { adjacencyMask, blockDiagonal, fusionGraph } from '../src/arpgnet/graph.js';

const args = process.argv.slice(2).map(Number);
const [clips = 32, dim = 64, heads = 4, repeats = 20] = args;
const lengths = args.length > 4 ? args.slice(4) : [3, 16];
await init();
manualSeed(0);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

async function time(fn: () => Tensor): Promise<{ ms: number; dispatches: number }> {
  const times: number[] = [];
  let dispatches = 0;
  for (let i = 0; i <= repeats; i++) {
    const d0 = recorder.dispatchCount;
    const t0 = performance.now();
    const out = fn();
    flush();
    await out.toArray();
    out.dispose();
    if (i === 0) continue; // pipelines compile
    times.push(performance.now() - t0);
    dispatches = recorder.dispatchCount - d0;
  }
  return { ms: median(times), dispatches };
}

console.log(`fusion layer, ${clips} clips, D ${dim}, ${heads} heads (median of ${repeats})`);
console.log('T   nodes  edges  | GATConv fwd  fwd+bwd       | SDPA+mask fwd  fwd+bwd');
for (const T of lengths) {
  const S = 2 * T;
  const edges = fusionGraph(T, { sequences: 2, cross: 'neighbours' });
  const gat = new GATConv(dim, dim / heads, { heads });
  const sdpa = new GraphSelfAttention(dim, heads);
  const graph = attentionGraph(blockDiagonal(edges, S, clips), S * clips);
  const mask = tensor(Array.from(adjacencyMask(edges, S), (v) => v === 1), [S, S], { dtype: 'bool' });
  const x = tensor(Float32Array.from({ length: clips * S * dim }, (_, i) => Math.sin(i)), [clips * S, dim], { requiresGrad: true });
  const layers = {
    gat: () => relu(add(gat.forward(x, graph), x)),
    sdpa: () => relu(add(sdpa.forward(x, mask, clips), x)),
  };
  const results: string[] = [];
  for (const run of [layers.gat, layers.sdpa]) {
    const forward = await time(() => noGrad(() => tidy(() => run())));
    const backward = await time(() =>
      tidy(() => {
        const loss = sum(run());
        loss.backward();
        return x.grad!.detach();
      }),
    );
    results.push(`${forward.ms.toFixed(2).padStart(7)} ms (${forward.dispatches})  ${backward.ms.toFixed(2).padStart(7)} ms (${backward.dispatches})`);
    for (const p of [x, ...gat.parameters(), ...sdpa.parameters()]) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
  console.log(`${String(T).padEnd(3)} ${String(S * clips).padEnd(6)} ${String(graph.edges).padEnd(6)} | ${results[0]} | ${results[1]}`);
  graph.dispose();
  mask.dispose();
  x.dispose();
  gat.dispose();
  sdpa.dispose();
}
