#!/usr/bin/env node
// The `pcnn` command. In an installed package it runs the CLI prebuilt by `npm pack` (dist/pcnn-cli.js);
// in the repository, where src/ is, it bundles the sources first (esbuild, a development dependency),
// so that it always runs the code checked out and never a stale dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const packageRoot = new URL('..', import.meta.url);
let cli;
if (existsSync(fileURLToPath(new URL('src/fer/cli.ts', packageRoot)))) {
  const { bundleForNode } = await import('../scripts/build-node.mjs');
  [cli] = await bundleForNode(['src/fer/cli.ts'], 'cli');
} else {
  cli = new URL('dist/pcnn-cli.js', packageRoot).href;
}
const { main } = await import(cli);
process.exitCode = await main(process.argv.slice(2));
