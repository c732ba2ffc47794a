// conv2d throughput on ResNet-18 shapes: GFLOP/s (2 FLOPs per multiply-add) of the forward, the
// gradient wrt the input and the gradient wrt the weight, median of several runs, wall time from
// recording to the queue reporting the work done (kernels only: inputs are on the GPU already).
// lavapipe runs the kernels on this process's threads, so on a shared, loaded machine the process's
// CPU time is the steadier measure: "cpu" figures are FLOPs per (CPU seconds / cores), what an idle
// machine would reach if the kernels scale over its cores.
// `--pcnn` takes PCNN's shapes instead (batch 64, width 16, 48x48 crops: small maps, many images).
// `--repeat R` records each kernel R times per run (figures are per call): small PCNN kernels take
// about a millisecond, below the noise of one call on a loaded machine.
// Usage: node scripts/run.mjs bench/conv2d.ts [--runs 5] [--repeat 1] [--pcnn] [--all-variants] [--only substring]
import { init, gpu, release } from '../src/engine/device.js';
import { flush } from '../src/engine/recorder.js';
import { randn, type Tensor } from '../src/engine/tensor.js';
import { noGrad } from '../src/engine/autograd.js';
import { availableParallelism } from 'node:os';
import { tidy } from '../src/engine/scope.js';
import {
  conv2d,
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dMacs,
  type BackwardVariant,
  type Conv2dOptions,
  type ForwardVariant,
} from '../src/kernels/conv2d/index.js';
import { conv2dGeometry } from '../src/kernels/conv2d/geometry.js';
import { chooseForwardVariant, supportsVariant } from '../src/kernels/conv2d/forward.js';
import { denseDoesLess } from '../src/kernels/conv2d/dense.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.indexOf(name);
const runs = flag('--runs') >= 0 ? Number(args[flag('--runs') + 1]) : 5;
const allVariants = flag('--all-variants') >= 0;
const only = flag('--only') >= 0 ? args[flag('--only') + 1] : '';
const repeat = flag('--repeat') >= 0 ? Number(args[flag('--repeat') + 1]) : 1;

type Case = { name: string; x: number[]; w: number[]; options: Conv2dOptions };
const RESNET: Case[] = [
  { name: 'N=8 56x56 64->64 3x3', x: [8, 64, 56, 56], w: [64, 64, 3, 3], options: { padding: 1 } },
  { name: 'N=8 28x28 128->128 3x3', x: [8, 128, 28, 28], w: [128, 128, 3, 3], options: { padding: 1 } },
  { name: 'N=8 224x224 3->64 7x7 s2', x: [8, 3, 224, 224], w: [64, 3, 7, 7], options: { stride: 2, padding: 3 } },
  { name: 'N=8 56x56 64->128 1x1 s2', x: [8, 64, 56, 56], w: [128, 64, 1, 1], options: { stride: 2 } },
];
const p1 = { padding: 1 };
const s2 = { stride: 2, padding: 1 };
const PCNN: Case[] = [
  { name: 'N=64 48x48 1->16 7x7 s2', x: [64, 1, 48, 48], w: [16, 1, 7, 7], options: { stride: 2, padding: 3 } },
  { name: 'N=64 12x12 16->16 3x3', x: [64, 16, 12, 12], w: [16, 16, 3, 3], options: p1 },
  { name: 'N=64 6x6 16->16 3x3', x: [64, 16, 6, 6], w: [16, 16, 3, 3], options: p1 },
  { name: 'N=64 2x6 16->16 3x3', x: [64, 16, 2, 6], w: [16, 16, 3, 3], options: p1 },
  { name: 'N=64 6x6 16->32 3x3 s2', x: [64, 16, 6, 6], w: [32, 16, 3, 3], options: s2 },
  { name: 'N=64 3x3 32->32 3x3', x: [64, 32, 3, 3], w: [32, 32, 3, 3], options: p1 },
  { name: 'N=64 1x3 32->32 3x3', x: [64, 32, 1, 3], w: [32, 32, 3, 3], options: p1 },
  { name: 'N=64 2x2 64->64 3x3', x: [64, 64, 2, 2], w: [64, 64, 3, 3], options: p1 },
  { name: 'N=64 1x2 64->64 3x3', x: [64, 64, 1, 2], w: [64, 64, 3, 3], options: p1 },
  { name: 'N=64 2x2 128->128 3x3', x: [64, 128, 2, 2], w: [128, 128, 3, 3], options: p1 },
  { name: 'N=64 2x2 2x64->2x64 3x3 g2', x: [64, 128, 2, 2], w: [128, 64, 3, 3], options: { padding: 1, groups: 2 } },
  { name: 'N=64 6x6 16->32 1x1 s2', x: [64, 16, 6, 6], w: [32, 16, 1, 1], options: { stride: 2 } },
];
const CASES = flag('--pcnn') >= 0 ? PCNN : RESNET;

const median = (v: number[]) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Median wall and CPU milliseconds of `fn`'s GPU work, per call. */
async function time(fn: () => Tensor): Promise<{ wall: number; cpu: number }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    for (let r = 0; r < repeat; r++) {
      tidy(() => noGrad(fn));
      flush();
    }
    await gpu().device.queue.onSubmittedWorkDone();
    const used = process.cpuUsage(cpuStart);
    if (i === 0) continue; // run 0 compiles the pipelines
    wall.push((performance.now() - start) / repeat);
    cpu.push((used.user + used.system) / 1e3 / repeat);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

await init();
console.log(`adapter: ${JSON.stringify(gpu().adapter)}; median of ${runs} runs`);
for (const c of CASES.filter((c) => c.name.includes(only))) {
  const x = randn(c.x);
  const w = randn(c.w);
  const g = conv2dGeometry(c.x, c.w, c.options);
  const dy = randn([g.N, g.O, g.OH, g.OW]);
  const gflop = (2 * conv2dMacs(g)) / 1e9;
  const cores = availableParallelism();
  const report = (what: string, { wall, cpu }: { wall: number; cpu: number }) =>
    console.log(
      `${c.name.padEnd(26)} ${what.padEnd(20)} ${wall.toFixed(1).padStart(8)} ms ${(gflop / (wall / 1e3)).toFixed(2).padStart(6)} GFLOP/s` +
        ` | cpu ${cpu.toFixed(1).padStart(8)} ms ${(gflop / (cpu / cores / 1e3)).toFixed(2).padStart(6)} GFLOP/s`,
    );
  // 'dense' only where it does fewer multiply-adds: on a 56x56 map its weight layout alone would be 160 GB.
  const dense = denseDoesLess(g) ? (['dense'] as const) : [];
  const variants: ForwardVariant[] = allVariants
    ? (['1x1', 'gemm', 'rows', 'direct', ...dense] as const).filter((v) => supportsVariant(g, v))
    : [chooseForwardVariant(g)];
  for (const variant of variants) {
    report(`forward (${variant})`, await time(() => conv2d(x, w, null, { ...c.options, variant })));
  }
  const backwardVariants: (BackwardVariant | undefined)[] = allVariants ? ['tiles', 'rows', ...dense] : [undefined];
  for (const variant of backwardVariants) {
    const label = variant ? ` (${variant})` : '';
    report(`backward data${label}`, await time(() => conv2dBackwardData(dy, w, c.x, { ...c.options, variant })));
  }
  for (const variant of backwardVariants) {
    const label = variant ? ` (${variant})` : '';
    report(`backward weight${label}`, await time(() => conv2dBackwardWeight(x, dy, c.w, { ...c.options, variant })));
  }
  for (const t of [x, w, dy]) t.dispose();
}
release();
