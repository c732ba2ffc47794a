// Runs the test suite: bundles test/**/*.test.ts with esbuild and runs them with uvu in one process
// (one WebGPU device for all). Usage: node scripts/test.mjs [substring filters...]
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { bundleForNode, root } from './build-node.mjs';

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return findTests(full);
    return entry.name.endsWith('.test.ts') ? [path.relative(root, full)] : [];
  });
}

const filters = process.argv.slice(2);
const entries = findTests(path.join(root, 'test'))
  .filter((file) => !filters.length || filters.some((f) => file.includes(f)))
  .sort();
if (!entries.length) {
  console.error(`test: no test file matches ${filters.join(' ')}`);
  process.exit(1);
}
// A directory per run: several runs (of different files) may share the tree.
const buildName = `test-${process.pid}`;
const outputs = await bundleForNode(entries, buildName);

process.env.PCNN_ROOT = root;
// uvu's own runner, fed with our bundles; its summary lines are counted for the closing line.
const counts = {};
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const text = String(chunk).replace(/\x1b\[[0-9;]*m/g, '');
  for (const key of ['Total', 'Passed', 'Skipped']) {
    const match = new RegExp(`${key}:\\s+(\\d+)`).exec(text);
    if (match) counts[key] = Number(match[1]);
  }
  return write(chunk, ...rest);
};
globalThis.UVU_DEFER = 1;
const uvu = await import('uvu');
for (const [index, file] of outputs.entries()) {
  globalThis.UVU_INDEX = index;
  globalThis.UVU_QUEUE.push([entries[index]]);
  await import(file);
}
await uvu.exec(false);
process.stdout.write = write;
// uvu's Total counts the tests that ran: skipped ones are not in it.
const failed = (counts.Total ?? 0) - (counts.Passed ?? 0);
console.log(`tests: ${counts.Passed ?? 0} passed, ${failed} failed, ${counts.Skipped ?? 0} skipped`);
rmSync(path.join(root, '.build', buildName), { recursive: true, force: true });
process.exit(failed || process.exitCode ? 1 : 0);
