// The GPU kit's test runner (bundled into the kit as js/scripts/gpu-kit/run-tests.mjs): runs the test
// bundles kit.json lists, then writes the counts to the JSON file named by its one argument.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTestBundles } from '../uvu-bundles.mjs';

const [countsFile] = process.argv.slice(2);
if (!countsFile) {
  console.error('usage: node run-tests.mjs COUNTS.json');
  process.exit(2);
}
// This file lies at <kit>/root/js/scripts/gpu-kit/; kit.json at <kit>/.
const here = path.dirname(fileURLToPath(import.meta.url));
const kitDir = path.resolve(here, '../../../..');
const { tests } = JSON.parse(readFileSync(path.join(kitDir, 'kit.json'), 'utf8'));
const bundles = tests.map((test) => path.join(kitDir, 'root', 'js', test.replace(/\.ts$/, '.mjs')));
const counts = await runTestBundles(bundles, tests);
console.log(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
writeFileSync(countsFile, JSON.stringify(counts));
process.exit(counts.failed || counts.exitCodeSet ? 1 : 0);
