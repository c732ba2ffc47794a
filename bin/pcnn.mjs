#!/usr/bin/env node
// The `pcnn` command: bundles the CLI (TypeScript, WGSL as text) with esbuild, then runs it.
import { bundleForNode } from '../scripts/build-node.mjs';

const [cli] = await bundleForNode(['src/pcnn/cli.ts'], 'cli');
const { main } = await import(cli);
process.exitCode = await main(process.argv.slice(2));
