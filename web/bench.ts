// The benchmark page: a handful of kernels at sizes a software adapter finishes in seconds, each timed
// from submission to completion of its command buffer (timestamp queries are often missing in
// browsers), median over the repetitions after one warm-up run that also compiles the pipelines.
import {
  PCNN, batchNorm2d, conv2d, flush, gpu, init, matmul, noGrad, ones, randn, softmax, sum, tidy, zeros, add, type Tensor,
} from '../src/index.js';
import { showAdapter, showNoWebGPU } from './status.js';

interface Case {
  name: string;
  shape: string;
  /** Work per run, and its unit per second ('GFLOP/s', 'GB/s', 'images/s'). */
  amount: number;
  unit: string;
  /** Makes the inputs once: the work of one run (recorded, not yet submitted), and what frees them. */
  setUp(): { run: () => void; dispose: () => void };
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Inputs are made outside any scope, so they are ours to free (gradients of leaves included). */
function disposeAll(...tensors: (Tensor | null)[]): void {
  for (const t of tensors) t?.dispose();
}

function cases(): Case[] {
  const conv = { n: 4, c: 16, h: 24, w: 24 };
  const convFlops = 2 * conv.n * conv.c * conv.h * conv.w * conv.c * 9;
  const bn = { n: 8, c: 16, h: 24, w: 24 };
  const elements = 1 << 20;
  return [
    {
      name: 'matmul',
      shape: '256 x 256 x 256',
      amount: 2 * 256 ** 3 / 1e9,
      unit: 'GFLOP/s',
      setUp: () => {
        const [a, b] = [randn([256, 256]), randn([256, 256])];
        return { run: () => void matmul(a, b), dispose: () => disposeAll(a, b) };
      },
    },
    {
      name: 'conv2d forward',
      shape: `N${conv.n} ${conv.c}->${conv.c} ${conv.h}x${conv.w} 3x3`,
      amount: convFlops / 1e9,
      unit: 'GFLOP/s',
      setUp: () => {
        const [x, weight] = [randn([conv.n, conv.c, conv.h, conv.w]), randn([conv.c, conv.c, 3, 3])];
        return { run: () => void conv2d(x, weight, null, { padding: [1, 1] }), dispose: () => disposeAll(x, weight) };
      },
    },
    {
      name: 'conv2d forward + backward',
      shape: `N${conv.n} ${conv.c}->${conv.c} ${conv.h}x${conv.w} 3x3`,
      amount: (3 * convFlops) / 1e9, // backward data and backward weight each cost about a forward
      unit: 'GFLOP/s',
      setUp: () => {
        const x = randn([conv.n, conv.c, conv.h, conv.w], { requiresGrad: true });
        const weight = randn([conv.c, conv.c, 3, 3], { requiresGrad: true });
        return {
          run: () => sum(conv2d(x, weight, null, { padding: [1, 1] })).backward(),
          dispose: () => disposeAll(x, weight, x.grad, weight.grad),
        };
      },
    },
    {
      name: 'batchNorm2d (training)',
      shape: `N${bn.n} C${bn.c} ${bn.h}x${bn.w}`,
      // Statistics read the input once, normalisation reads it again and writes the output.
      amount: (3 * 4 * bn.n * bn.c * bn.h * bn.w) / 1e9,
      unit: 'GB/s',
      setUp: () => {
        const x = randn([bn.n, bn.c, bn.h, bn.w]);
        const [mean, variance, weight, bias] = [zeros([bn.c]), ones([bn.c]), ones([bn.c]), zeros([bn.c])];
        return {
          run: () => void batchNorm2d(x, mean, variance, weight, bias, { training: true }),
          dispose: () => disposeAll(x, mean, variance, weight, bias),
        };
      },
    },
    {
      name: 'softmax',
      shape: '256 x 1000, dim 1',
      amount: (2 * 4 * 256 * 1000) / 1e9,
      unit: 'GB/s',
      setUp: () => {
        const x = randn([256, 1000]);
        return { run: () => void softmax(x, 1), dispose: () => disposeAll(x) };
      },
    },
    {
      name: 'add',
      shape: `${elements} elements`,
      amount: (3 * 4 * elements) / 1e9,
      unit: 'GB/s',
      setUp: () => {
        const [a, b] = [randn([elements]), randn([elements])];
        return { run: () => void add(a, b), dispose: () => disposeAll(a, b) };
      },
    },
    {
      name: 'PCNN inference',
      shape: 'width 4, gray 48x48, batch 8',
      amount: 8,
      unit: 'images/s',
      setUp: () => {
        const model = new PCNN({ width: 4 });
        model.eval();
        const x = randn([8, 1, 48, 48]);
        return { run: () => void noGrad(() => model.forward(x)), dispose: () => (model.dispose(), disposeAll(x)) };
      },
    },
  ];
}

/** Milliseconds of each run: record, submit, wait for the queue. Outputs are freed by the tidy. */
async function time(run: () => void, reps: number): Promise<number[]> {
  const { queue } = gpu().device;
  const times: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const start = performance.now();
    tidy(run);
    flush();
    await queue.onSubmittedWorkDone();
    if (i > 0) times.push(performance.now() - start);
  }
  return times;
}

/** The number of repetitions: odd, so that the median is one of the times (with an even count it would
 *  be the slower of the middle two). An even entry is raised to the next odd number, and the field says so. */
export function oddRepetitions(value: number): number {
  const n = Math.max(1, Math.floor(Number.isFinite(value) ? value : 1));
  return n % 2 ? n : n + 1;
}

async function runAll(): Promise<void> {
  const field = $<HTMLInputElement>('reps');
  const reps = oddRepetitions(Number(field.value));
  if (String(reps) !== field.value) {
    $('reps-note').textContent = `${field.value} repetitions -> ${reps}: an odd number, so that the median is the middle time`;
    field.value = String(reps);
  } else $('reps-note').textContent = '';
  const all = cases();
  const body = $('results').querySelector('tbody')!;
  // Every case listed at once, waiting; the running one highlighted, rows filled in as they finish.
  const rows = all.map((c) => {
    const row = document.createElement('tr');
    row.className = 'waiting';
    for (const text of [c.name, c.shape, 'waiting', '', '']) row.insertCell().textContent = text;
    return row;
  });
  body.replaceChildren(...rows);
  for (const [i, c] of all.entries()) {
    const row = rows[i];
    row.className = 'running';
    row.cells[2].textContent = 'running…';
    $('progress').textContent = `running ${i + 1} of ${all.length}: ${c.name} (${c.shape}), ${reps} repetitions after a warm-up`;
    await new Promise((resolve) => setTimeout(resolve, 0)); // let the page show it
    const { run, dispose } = c.setUp();
    let times: number[];
    try {
      times = await time(run, reps);
    } finally {
      dispose();
    }
    times.sort((a, b) => a - b);
    const median = times[(times.length - 1) / 2];
    row.className = '';
    [median.toFixed(2), times[0].toFixed(2), `${(c.amount / (median / 1000)).toFixed(2)} ${c.unit}`].forEach((text, k) => (row.cells[2 + k].textContent = text));
  }
  $('progress').textContent = `done: ${all.length} cases, ${reps} repetitions each`;
}

try {
  const { adapter } = await init();
  showAdapter($('status'), adapter);
  const button = $<HTMLButtonElement>('run');
  button.disabled = false;
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = 'Running…';
    try {
      await runAll();
    } catch (error) {
      $('status').textContent = error instanceof Error ? error.message : String(error);
      $('status').className = 'error';
    } finally {
      button.disabled = false;
      button.textContent = 'Run again';
    }
  });
} catch (error) {
  showNoWebGPU($('status'), error);
}
