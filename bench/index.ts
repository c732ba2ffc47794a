// The benchmark suite: npm run bench -- [--quick] [--reps N] [--out FILE.json] [--no-tfjs] [--only TEXT]
//   1. the adapter's ceiling: our best matmul (GFLOP/s) and a compute-shader copy (GB/s);
//   2. kernels: matmul, conv2d forward / backward data / backward weight on every distinct convolution of
//      ResNet-18 at 48 (gray, batch 64), 64 and 224 (RGB, batch 32 and 8), batchNorm2d, maxPool2d,
//      interpolate, gridSample; TF.js's WebGPU backend on the same adapter beside each;
//   3. PCNN end to end: training step and inference, images/s, peak pool memory;
//   4. a table here, a JSON file (default bench/results/<date>-<device>.json) and a PNG chart beside it.
// --quick runs a representative subset with 3 repetitions and skips the 224 PCNN step; --only keeps the
// kernel cases and PCNN configurations whose name contains TEXT (the ceiling always runs). Figures are medians with [min–max] over the repetitions.
import path from 'node:path';
import { execSync } from 'node:child_process';
import { init, release } from '../src/engine/device.js';
import { measureCeiling } from './ceiling.js';
import { convCases, matmulCase, memoryCases, type KernelCase } from './cases.js';
import { runKernelCase, type KernelResult } from './kernels.js';
import { resnet18Convolutions } from './resnet_shapes.js';
import { PCNN_CONFIGS, runPcnn, type PcnnResult } from './pcnn.js';
import { loadTfjs } from './tfjs.js';
import { floors, printResults, writeResults, type Results } from './report.js';

function parseArgs(argv: string[]) {
  const options = { quick: false, reps: 0, out: '', tfjs: true, only: '' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`bench: ${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--no-tfjs') options.tfjs = false;
    else if (arg === '--reps') options.reps = Number(value());
    else if (arg === '--out') options.out = value();
    else if (arg === '--only') options.only = value();
    else throw new Error(`bench: unknown argument '${arg}'; expected --quick, --reps N, --out FILE.json, --no-tfjs or --only TEXT`);
  }
  options.reps ||= options.quick ? 3 : 7;
  if (!Number.isInteger(options.reps) || options.reps < 1) throw new Error(`bench: --reps must be a positive integer, got ${options.reps}`);
  return options;
}

const RESNET_INPUTS = [
  { label: '48/1ch/b64', size: 48, channels: 1, batch: 64 },
  { label: '64/3ch/b32', size: 64, channels: 3, batch: 32 },
  { label: '224/3ch/b8', size: 224, channels: 3, batch: 8 },
];

/** Quick mode: the stem, a full-size 3x3, a strided 1x1 and a deep 3x3 at 224, two 3x3 at the small
 *  inputs (where launch overhead, not arithmetic, is what gets measured). */
const QUICK_SHAPES: Record<number, string[]> = {
  48: ['layer1 3x3 64→64', 'layer3 3x3 256→256'],
  64: ['layer1 3x3 64→64', 'layer3 3x3 256→256'],
  224: ['stem', 'layer1 3x3 64→64', 'layer2 1x1/2', 'layer3 3x3 256→256'],
};

function kernelCases(quick: boolean): KernelCase[] {
  const cases: KernelCase[] = (quick ? [1024] : [512, 1024, 2048]).map((n) => matmulCase(n, n, n));
  for (const input of RESNET_INPUTS) {
    const shapes = resnet18Convolutions(input).filter((s) => !quick || QUICK_SHAPES[input.size].some((q) => s.name.startsWith(q)));
    for (const s of shapes) cases.push(...convCases(input.label, s));
  }
  return [...cases, ...memoryCases()];
}

function gitCommit(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
    return execSync('git status --porcelain --untracked-files=no', { encoding: 'utf8' }).trim() ? `${head}+dirty` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

const options = parseArgs(process.argv.slice(2));
// Taken before the run: others may commit while it runs, and the bundle was built from this tree.
const commit = gitCommit();
const { tf, error: tfError } = options.tfjs ? await loadTfjs() : { tf: null, error: 'disabled by --no-tfjs' };
const { adapter } = await init();
const date = new Date().toISOString();
console.log(`bench: ${adapter.vendor} / ${adapter.architecture} / ${adapter.device}; ${options.quick ? 'quick, ' : ''}${options.reps} reps`);

console.log('ceiling…');
const ceiling = await measureCeiling({ quick: options.quick, reps: options.reps });

const kernels: KernelResult[] = [];
for (const c of kernelCases(options.quick).filter((c) => `${c.config} ${c.name}`.includes(options.only))) {
  const result = await runKernelCase(c, tf, options.reps);
  kernels.push(result);
  const speedup = result.speedup === null ? (result.note ?? '') : `${result.speedup.toFixed(2)}x vs TF.js`;
  console.log(`  ${c.config} ${c.name}: ${result.rate.median.toFixed(2)} ${result.unit}, ${result.ours.wallMs.median.toFixed(1)} ms; ${speedup}`);
}

const pcnn: PcnnResult[] = [];
const pcnnSkipped: Results['pcnnSkipped'] = [];
for (const config of PCNN_CONFIGS) {
  if (!config.name.includes(options.only)) {
    pcnnSkipped.push({ name: config.name, reason: `not selected by --only ${options.only}` });
    continue;
  }
  if (options.quick && config.slow) {
    pcnnSkipped.push({ name: config.name, reason: 'quick mode (one step takes tens of seconds on a CPU adapter)' });
    continue;
  }
  console.log(`PCNN ${config.name}…`);
  try {
    pcnn.push(await runPcnn(config, options.reps));
  } catch (error) {
    pcnnSkipped.push({ name: config.name, reason: `failed: ${(error as Error).message}` });
  }
}

const results: Results = {
  date,
  adapter,
  command: `npm run bench --${process.argv.slice(2).map((a) => ` ${a}`).join('')}`,
  commit,
  quick: options.quick,
  reps: options.reps,
  tfjs: tf ? { loaded: true, version: tf.version_core } : { loaded: false, error: tfError },
  ceiling,
  kernels,
  pcnn,
  pcnnSkipped,
  floors: floors(kernels, pcnn),
};
printResults(results);
const device = adapter.device.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '');
const out = options.out || path.join('bench', 'results', `${date.slice(0, 10)}-${device}.json`);
const written = writeResults(results, out);
console.log(`\nwrote ${written.json}${written.png ? ` and ${written.png}` : ''}`);
release();
// TF.js's device and the Dawn instance published as navigator.gpu would keep the process alive.
process.exit(0);
