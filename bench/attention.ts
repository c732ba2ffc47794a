// Attention benchmarks: node scripts/run.mjs bench/attention.ts [--quick] [--reps N] [--no-tfjs] [--mem L,L,...] [--only TEXT] [--variant plain|shared]
//   1. scaledDotProductAttention forward, fused (one kernel, online softmax) beside TF.js's composition on
//      the same adapter (tf.matMul(q, k, false, true) · scale, tf.softmax, tf.matMul with v: what a TF.js
//      user writes) and our own composition (matmul, mul, softmax, matmul);
//   2. forward + backward, fused vs our own composition (TF.js has no fused attention to compare);
//   3. peak pool memory of the fused forward + backward at long sequences, 1 head x 64 (--mem);
//   4. GATConv on a Cora-sized random graph (2,708 nodes, 10,556 edges, 1,433 -> 8 heads x 8).
// Rates in GFLOP/s (2 per multiply-add, the two attention matmuls only: 4·B·H·L·S·E forward; the fused
// backward recomputes the scores and is counted as 2.5x the forward, the composition's backward likewise)
// from GPU time (timestamp queries) when the adapter has them, else wall time; "% ceiling" divides by this
// run's best matmul (bench/ceiling.ts). Medians [min-max] over the repetitions.
import { init, release } from '../src/engine/device.js';
import { pool } from '../src/engine/pool.js';
import { tidy } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';
import { randn, type Tensor } from '../src/engine/tensor.js';
import { Generator } from '../src/engine/random.js';
import { scaledDotProductAttention, setAttentionVariant, attentionVariant, type AttentionVariant } from '../src/kernels/attention/index.js';
import { matmul } from '../src/kernels/matmul/index.js';
import { softmax } from '../src/kernels/softmax/softmax.js';
import { mul } from '../src/kernels/elementwise/index.js';
import { sum } from '../src/kernels/reduce/index.js';
import { transpose } from '../src/kernels/shape/index.js';
import { GATConv } from '../src/nn/gat.js';
import { attentionGraph } from '../src/kernels/graph/index.js';
import { measureCeiling, bestMs } from './ceiling.js';
import { throughput, timeWork, type Stats, type Timing } from './harness.js';
import { loadTfjs, timeTf, type Tfjs } from './tfjs.js';

function parseArgs(argv: string[]) {
  const options = { quick: false, reps: 0, tfjs: true, mem: [] as number[], only: '', variant: '' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`bench attention: ${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--no-tfjs') options.tfjs = false;
    else if (arg === '--reps') options.reps = Number(value());
    else if (arg === '--mem') options.mem = value().split(',').map(Number);
    else if (arg === '--only') options.only = value();
    else if (arg === '--variant') options.variant = value();
    else throw new Error(`bench attention: unknown argument '${arg}'`);
  }
  options.reps ||= 3;
  if (!Number.isInteger(options.reps) || options.reps < 1 || options.reps % 2 === 0) throw new Error(`bench attention: --reps must be a positive odd integer, got ${options.reps}`);
  if (!options.mem.length) options.mem = options.quick ? [2048] : [2048, 4096, 8192];
  return options;
}

const options = parseArgs(process.argv.slice(2));
const { tf, error: tfError } = options.tfjs ? await loadTfjs() : { tf: null as Tfjs | null, error: 'disabled by --no-tfjs' };
const { adapter } = await init();
// --variant forces the fused kernels' variant, forward and backward (default: the adapter's choice, variant.ts).
if (options.variant) setAttentionVariant(options.variant as AttentionVariant);
const adapterName = `${adapter.vendor} / ${adapter.architecture} / ${adapter.device} (${adapter.description})`;
console.log(`bench attention: ${adapterName}; fused kernels ${attentionVariant()}; ${options.reps} reps; TF.js ${tf ? tf.version_core : `not loaded: ${tfError}`}`);

const fmt = (s: Stats, digits = 3) => {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(digits));
  return `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
};

console.log('ceiling…');
const ceiling = await measureCeiling({ quick: true, reps: options.reps });
const ceilingGflops = ceiling.matmul.gflops.median;
console.log(`  matmul 1024^3 ${ceiling.matmul.tuning.variant} [${ceiling.matmul.tuning.workgroup}]: ${fmt(ceiling.matmul.gflops)} GFLOP/s`);

interface Row {
  case: string;
  impl: string;
  timing: Timing;
  gflop: number;
}
const rows: Row[] = [];
const line = (r: Row) => {
  const ms = bestMs(r.timing);
  const rate = throughput(r.gflop, ms);
  return `| ${r.case} | ${r.impl} | ${fmt(r.timing.wallMs)} | ${r.timing.gpuMs ? fmt(r.timing.gpuMs) : '—'} | ${fmt(rate)} | ${((100 * rate.median) / ceilingGflops).toFixed(0)}% |`;
};
const push = (r: Row) => {
  rows.push(r);
  console.log(line(r));
};

/** [B, H, L, E] inputs; `grad` makes them leaves that require gradients. */
function qkv(b: number, h: number, l: number, s: number, e: number, grad: boolean, seed: number) {
  const generator = new Generator(seed);
  return {
    q: randn([b, h, l, e], { generator, requiresGrad: grad }),
    k: randn([b, h, s, e], { generator, requiresGrad: grad }),
    v: randn([b, h, s, e], { generator, requiresGrad: grad }),
    dO: randn([b, h, l, e], { generator }),
  };
}

function composed(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const scale = 1 / Math.sqrt(q.shape[q.ndim - 1]);
  const scores = mul(matmul(q, transpose(k, q.ndim - 2, q.ndim - 1)), scale);
  return matmul(softmax(scores, -1), v);
}

function clearGrads(ts: Tensor[]) {
  for (const t of ts) {
    t.grad?.dispose();
    t.grad = null;
  }
}

async function attentionCase(name: string, b: number, h: number, l: number, e: number, withBackward: boolean, withTf: boolean) {
  if (!name.includes(options.only)) return;
  const flop = (4 * b * h * l * l * e) / 1e9;
  const inputs = qkv(b, h, l, l, e, withBackward, 1);
  const { q, k, v, dO } = inputs;
  try {
    const fwd = (f: typeof composed) => () => {
      tidy(() => {
        noGrad(() => f(q, k, v));
      });
    };
    push({ case: `${name} fwd`, impl: 'ours, fused', timing: await timeWork(fwd(scaledDotProductAttention), options.reps), gflop: flop });
    push({ case: `${name} fwd`, impl: 'ours, composed', timing: await timeWork(fwd(composed), options.reps), gflop: flop });
    if (withTf && tf) {
      const tq = tf.randomNormal([b * h, l, e]);
      const tk = tf.randomNormal([b * h, l, e]);
      const tv = tf.randomNormal([b * h, l, e]);
      const scale = 1 / Math.sqrt(e);
      const timing = await timeTf(tf, () => tf.matMul(tf.softmax(tf.mul(tf.matMul(tq, tk, false, true), scale)), tv), options.reps);
      tf.dispose([tq, tk, tv]);
      push({ case: `${name} fwd`, impl: 'TF.js composition', timing, gflop: flop });
    }
    if (withBackward) {
      const both = (f: typeof composed) => () => {
        tidy(() => {
          f(q, k, v).backward(dO);
        });
        clearGrads([q, k, v]);
      };
      push({ case: `${name} fwd+bwd`, impl: 'ours, fused', timing: await timeWork(both(scaledDotProductAttention), options.reps), gflop: 3.5 * flop });
      push({ case: `${name} fwd+bwd`, impl: 'ours, composed', timing: await timeWork(both(composed), options.reps), gflop: 3.5 * flop });
    }
  } finally {
    for (const t of Object.values(inputs)) t.dispose();
  }
}

await attentionCase('SDPA 1x8x1024x64', 1, 8, 1024, 64, true, true);
if (!options.quick) {
  await attentionCase('ViT-S/16 1x6x197x64', 1, 6, 197, 64, false, true);
  await attentionCase('BERT-base 1x12x512x64', 1, 12, 512, 64, false, true);
}

// Peak pool memory of one fused forward + backward, 1 head x 64, after pool.resetPeak(); the inputs and
// dO are allocated before the reset, so the peak counts them (they are in use) plus what the op adds.
const memory: { l: number; peak: number; inputs: number; ms: number }[] = [];
for (const l of options.mem) {
  if (!'memory'.includes(options.only) && options.only) break;
  const inputs = qkv(1, 1, l, l, 64, true, 2);
  const { q, k, v, dO } = inputs;
  try {
    pool.resetPeak();
    const timing = await timeWork(() => {
      tidy(() => {
        scaledDotProductAttention(q, k, v).backward(dO);
      });
    }, 1, 0);
    const peak = pool.memory().peakBytesInUse;
    clearGrads([q, k, v]);
    memory.push({ l, peak, inputs: 4 * 4 * l * 64, ms: timing.wallMs.median });
    console.log(`  memory L=S=${l} 1x64 fused fwd+bwd: peak ${(peak / 2 ** 20).toFixed(2)} MiB (inputs q, k, v, dO ${(4 * 4 * l * 64) / 2 ** 20} MiB; scores would be ${(4 * l * l) / 2 ** 20} MiB), ${timing.wallMs.median.toFixed(0)} ms wall (one run, includes compilation at the first L)`);
  } finally {
    for (const t of Object.values(inputs)) t.dispose();
  }
}

// GATConv on a Cora-sized random graph.
if ('GATConv Cora'.includes(options.only) || !options.only) {
  const nodes = 2708;
  const edges = 10556;
  const generator = new Generator(3);
  const edgeIndex = new Int32Array(2 * edges);
  for (let i = 0; i < 2 * edges; i++) edgeIndex[i] = Math.floor(generator.uniform(0, nodes));
  const layer = new GATConv(1433, 8, { heads: 8, generator });
  const graph = attentionGraph(edgeIndex, nodes);
  const x = randn([nodes, 1433], { generator });
  // Linear 2·N·1433·64 dominates; the edge work (scores, softmax, weighted sum) is ~2·(E + N)·64·2.
  const flop = (2 * nodes * 1433 * 64 + 4 * (edges + nodes) * 64) / 1e9;
  try {
    layer.eval();
    const forward = () => {
      tidy(() => {
        noGrad(() => layer.forward(x, graph));
      });
    };
    push({ case: 'GATConv Cora-sized fwd', impl: 'ours', timing: await timeWork(forward, options.reps), gflop: flop });
    layer.train();
    const params = layer.parameters();
    push({
      case: 'GATConv Cora-sized fwd+bwd',
      impl: 'ours',
      timing: await timeWork(() => {
        tidy(() => {
          sum(layer.forward(x, graph)).backward();
        });
        clearGrads(params);
      }, options.reps),
      gflop: 3 * flop,
    });
  } finally {
    x.dispose();
    layer.dispose();
  }
}

console.log(`\n### Attention, ${new Date().toISOString()}\n`);
console.log(`Command: \`node scripts/run.mjs bench/attention.ts ${process.argv.slice(2).join(' ')}\`; adapter ${adapterName}; TF.js ${tf ? tf.version_core : `not loaded (${tfError})`}; ${options.reps} repetitions, median [min–max].`);
console.log(`Ceiling: matmul 1024^3 ${ceiling.matmul.tuning.variant} [${ceiling.matmul.tuning.workgroup}] ${fmt(ceiling.matmul.gflops)} GFLOP/s.\n`);
console.log('| case | implementation | wall ms | GPU ms | GFLOP/s | % ceiling |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(line(r));
const ratio = (c: string, a: string, b: string) => {
  const x = rows.find((r) => r.case === c && r.impl === a);
  const y = rows.find((r) => r.case === c && r.impl === b);
  if (!x || !y) return null;
  return { wall: y.timing.wallMs.median / x.timing.wallMs.median, gpu: x.timing.gpuMs && y.timing.gpuMs ? y.timing.gpuMs.median / x.timing.gpuMs.median : null };
};
console.log('');
for (const [c, a, b, floor] of [
  ['SDPA 1x8x1024x64 fwd', 'ours, fused', 'TF.js composition', 3],
  ['SDPA 1x8x1024x64 fwd', 'ours, fused', 'ours, composed', null],
  ['SDPA 1x8x1024x64 fwd+bwd', 'ours, fused', 'ours, composed', 2],
  ['ViT-S/16 1x6x197x64 fwd', 'ours, fused', 'TF.js composition', null],
  ['BERT-base 1x12x512x64 fwd', 'ours, fused', 'TF.js composition', null],
] as const) {
  const r = ratio(c, a, b);
  if (!r) continue;
  const verdict = floor === null ? '' : r.wall >= floor ? ` — floor ≥ ${floor}x met` : ` — floor ≥ ${floor}x NOT met`;
  console.log(`- ${c}: ${a} vs ${b}: ${r.wall.toFixed(2)}x (wall)${r.gpu ? `, ${r.gpu.toFixed(2)}x (GPU)` : ''}${verdict}`);
}
for (const m of memory) console.log(`- memory L=S=${m.l}: peak ${(m.peak / 2 ** 20).toFixed(2)} MiB, ${m.ms.toFixed(0)} ms`);

release();
process.exit(0);
