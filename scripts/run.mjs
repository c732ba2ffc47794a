// Runs a TypeScript entry point (bench, examples) after bundling it with esbuild: node scripts/run.mjs FILE.ts [args...]
import path from 'node:path';
import { bundleForNode, root } from './build-node.mjs';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run.mjs FILE.ts [args...]');
  process.exit(2);
}
const name = `run-${path.basename(entry, '.ts')}`;
const [output] = await bundleForNode([path.relative(root, path.resolve(entry))], name);
process.argv = [process.argv[0], output, ...args];
await import(output);
