// Bundles TypeScript entry points for Node with esbuild (WGSL imported as text), into .build/.
// Used by the test runner, the CLI launcher and the benchmarks, so that all load code the same way.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** esbuild's options for Node bundles of `entries` (paths relative to the root) into `outdir`; npm
 *  packages stay imports, resolved from node_modules (the GPU kit's build inlines them instead). */
export function nodeBundleOptions(entries, outdir) {
  return {
    absWorkingDir: root,
    entryPoints: entries,
    outdir,
    outbase: root,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node18',
    packages: 'external',
    loader: { '.wgsl': 'text' },
    sourcemap: 'inline',
    logLevel: 'warning',
  };
}

/** Bundles each entry (paths relative to the root) to .build/<name>/…; returns the output paths. */
export async function bundleForNode(entries, name) {
  const outdir = path.join(root, '.build', name);
  await build(nodeBundleOptions(entries, outdir));
  return entries.map((entry) => path.join(outdir, entry.replace(/\.ts$/, '.mjs')));
}

export function hashOf(text) {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}
