// Matmul throughput: node scripts/run.mjs bench/matmul.ts [size] [variant:WGXxWGY ...]
// Times size³ products (default 1024) for each tuning given (default: the adapter's own), median of 5
// runs after a warm-up, each synchronised with the queue (submit, then onSubmittedWorkDone).
import { init, release } from '../src/engine/device.js';
import { flush } from '../src/engine/recorder.js';
import { randn } from '../src/engine/tensor.js';
import { noGrad } from '../src/engine/autograd.js';
import { matmul, matmulTuning, setMatmulTuning, type MatmulTuning } from '../src/kernels/matmul/index.js';

const { device, adapter } = await init();
const [sizeArg, ...tuningArgs] = process.argv.slice(2);
const size = Number(sizeArg ?? 1024);
const tunings: (MatmulTuning | null)[] = tuningArgs.length
  ? tuningArgs.map((arg) => {
      const [variant, shape] = arg.split(':');
      const [x, y] = shape.split('x').map(Number);
      return { variant: variant as MatmulTuning['variant'], workgroup: [x, y] as const };
    })
  : [null];

const a = randn([size, size]);
const b = randn([size, size]);
console.log(`adapter: ${adapter.vendor} ${adapter.architecture} ${adapter.device}; ${size}³ matmul`);
for (const tuning of tunings) {
  setMatmulTuning(tuning);
  const times: number[] = [];
  const cpu: number[] = [];
  for (let rep = 0; rep < 6; rep++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const out = noGrad(() => matmul(a, b));
    flush();
    await device.queue.onSubmittedWorkDone();
    if (rep > 0) {
      times.push(performance.now() - start);
      const used = process.cpuUsage(cpuStart);
      cpu.push((used.user + used.system) / 1000);
    }
    out.dispose();
  }
  const middle = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const median = middle(times);
  const { variant, workgroup } = matmulTuning();
  const gflops = (2 * size ** 3) / (median * 1e6);
  // CPU time of the process (lavapipe's threads included) tells, on a loaded shared machine, what the
  // kernel costs: wall time there measures the neighbours too.
  const cpuMs = middle(cpu);
  console.log(
    `${variant} [${workgroup}]: ${median.toFixed(1)} ms, ${gflops.toFixed(2)} GFLOP/s (median of 5); ` +
      `CPU ${cpuMs.toFixed(0)} ms, ${((2 * size ** 3) / (cpuMs * 1e6)).toFixed(2)} GFLOP per CPU-second`,
  );
}
a.dispose();
b.dispose();
release();
