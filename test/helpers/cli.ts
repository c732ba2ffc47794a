// The `pcnn` command run in a child process, for the CLI tests.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './index.js';

export function pcnn(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/pcnn.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The one-line error of a refused run (exit 1), which must name the command (Dawn's warnings may come before it). */
export function refusal(...args: string[]): string {
  const r = pcnn(...args);
  assert.is(r.code, 1, `${args.join(' ')}: ${r.err}`);
  const line = r.err.trimEnd().split('\n').at(-1)!;
  assert.ok(line.startsWith(`pcnn ${args[0]}: `), r.err);
  return line;
}
