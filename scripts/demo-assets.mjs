// Runs scripts/demo-assets.ts (bundled for Node as the tests are). See that file for what it writes.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { bundleForNode, root } from './build-node.mjs';

const name = `demo-assets-${process.pid}`;
const [out] = await bundleForNode(['scripts/demo-assets.ts'], name);
process.env.PCNN_ROOT = root;
try {
  await import(out);
} finally {
  rmSync(path.join(root, '.build', name), { recursive: true, force: true });
}
