// The GPU kit's stages, run by run.sh with the kit's own Node: node main.mjs RESULTS [--tests-only].
// Each stage is a child process with a time limit, so that one that hangs on a driver still leaves the
// others' figures and a results.json saying what happened; the limits add up to 470 s, under 8 minutes.
// Plain Node, no imports beyond Node's own: this file is copied into the kit as it is.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const kitDir = path.dirname(fileURLToPath(import.meta.url));
const kitRoot = path.join(kitDir, 'root');
const js = (file) => path.join(kitRoot, 'js', file);

const [resultsArg, ...flags] = process.argv.slice(2);
const unknown = flags.filter((f) => f !== '--tests-only');
if (!resultsArg || unknown.length) {
  console.error(`usage: run.sh RESULTS [--tests-only]${unknown.length ? `; unknown argument ${unknown.join(' ')}` : ''}`);
  process.exit(2);
}
const testsOnly = flags.includes('--tests-only');
const results = path.resolve(resultsArg);
// GPU_KIT_TIMEOUT_SCALE stretches every limit, for a CPU adapter (scripts/check-gpu-kit.sh on lavapipe).
const timeoutScale = Number(process.env.GPU_KIT_TIMEOUT_SCALE ?? 1);
if (!(timeoutScale > 0)) {
  console.error(`GPU_KIT_TIMEOUT_SCALE must be a positive number, got '${process.env.GPU_KIT_TIMEOUT_SCALE}'`);
  process.exit(2);
}

const kit = JSON.parse(readFileSync(path.join(kitDir, 'kit.json'), 'utf8'));
const STAGES = [
  { name: 'adapter', limitS: 30, args: [js('scripts/gpu-kit/adapter.mjs')] },
  { name: 'tests', limitS: 250, args: [js('scripts/gpu-kit/run-tests.mjs'), path.join(results, 'tests.json')] },
  { name: 'bench', limitS: 110, args: [js('bench/index.mjs'), '--quick', '--no-tfjs', '--out', path.join(results, 'bench.json')] },
  { name: 'pcnn', limitS: 80, args: [js('scripts/gpu-kit/pcnn-steps.mjs'), path.join(results, 'pcnn-steps.json')] },
].filter((stage) => !testsOnly || stage.name === 'adapter' || stage.name === 'tests');

/** Runs one stage with the kit's Node, its output passed through; resolves to its record. */
function runStage(stage) {
  const limitS = stage.limitS * timeoutScale;
  const started = performance.now();
  console.log(`\n== ${stage.name} (limit ${limitS.toFixed(0)} s)`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', ...stage.args], {
      cwd: kitRoot,
      env: { ...process.env, PCNN_ROOT: kitRoot },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      stdout = (stdout + chunk).slice(-65536);
    });
    child.stderr.on('data', (chunk) => process.stderr.write(chunk));
    let timedOut = false;
    const watchdog = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitS * 1000);
    const finish = (status, exitCode) => {
      clearTimeout(watchdog);
      resolve({ name: stage.name, status, exitCode, seconds: Number(((performance.now() - started) / 1000).toFixed(1)), stdout });
    };
    child.on('error', (error) => finish(`failed to start: ${error.message}`, null));
    child.on('exit', (code, signal) => {
      if (timedOut) finish(`timed out after ${limitS.toFixed(0)} s`, null);
      else if (signal) finish(`killed by ${signal}`, null);
      else finish(code === 0 ? 'passed' : 'failed', code);
    });
  });
}

function readJson(file) {
  const full = path.join(results, file);
  return existsSync(full) ? JSON.parse(readFileSync(full, 'utf8')) : null;
}

const started = new Date();
const startedAt = performance.now();
console.log(`GPU kit of commit ${kit.commit} (built ${kit.built}, Node ${kit.node}, webgpu ${kit.webgpu}); ${testsOnly ? 'tests only' : 'tests, quick bench, PCNN steps'}`);
console.log(`Vulkan driver: ${process.env.PCNN_KIT_ICD ?? 'not said (run the kit through run.sh)'}`);
console.log(`Left out of the kit, not run here (${kit.leftOut.length} test files):`);
for (const { file, reason } of kit.leftOut) console.log(`  ${file}: ${reason}`);
for (const { file, reason } of kit.partlySkipped) console.log(`  (run, in part) ${file}: ${reason}`);

const records = [];
let adapter = null;
for (const stage of STAGES) {
  if (stage.name !== 'adapter' && !adapter) {
    records.push({ name: stage.name, status: 'not run: no adapter', exitCode: null, seconds: 0 });
    continue;
  }
  const { stdout, ...record } = await runStage(stage);
  records.push(record);
  if (stage.name === 'adapter' && record.status === 'passed') adapter = JSON.parse(stdout.trim().split('\n').pop());
}

const ok = records.every((r) => r.status === 'passed');
const summary = {
  ok,
  mode: testsOnly ? 'tests-only' : 'full',
  started: started.toISOString(),
  seconds: Number(((performance.now() - startedAt) / 1000).toFixed(1)),
  vulkanDriver: process.env.PCNN_KIT_ICD ?? null,
  adapter,
  stages: records,
  tests: readJson('tests.json'),
  leftOutTests: kit.leftOut,
  partlySkippedTests: kit.partlySkipped,
  pcnn: testsOnly ? null : readJson('pcnn-steps.json'),
  bench: testsOnly ? null : readJson('bench.json'),
  kit: { commit: kit.commit, built: kit.built, node: kit.node, webgpu: kit.webgpu, testFiles: kit.tests },
};
writeFileSync(path.join(results, 'results.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`\n== summary (${summary.seconds} s): ${ok ? 'all stages passed' : 'SOME STAGES DID NOT PASS'}`);
for (const r of records) console.log(`  ${r.name}: ${r.status}${r.seconds ? ` (${r.seconds} s)` : ''}`);
const counts = summary.tests;
if (counts) console.log(`  tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped; ${kit.leftOut.length} test files left out (listed above)`);
console.log(`wrote ${path.join(results, 'results.json')} and ${path.join(results, 'log.txt')}`);
process.exit(ok ? 0 : 1);
