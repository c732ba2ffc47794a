// Runs the test suite: bundles test/**/*.test.ts with esbuild and runs them with uvu in one process
// (one WebGPU device for all). Usage: node scripts/test.mjs [substring filters...]
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { bundleForNode, root } from './build-node.mjs';
import { runTestBundles } from './uvu-bundles.mjs';

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
const { passed, failed, skipped, exitCodeSet } = await runTestBundles(outputs, entries);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
rmSync(path.join(root, '.build', buildName), { recursive: true, force: true });
process.exit(failed || exitCodeSet ? 1 : 0);
