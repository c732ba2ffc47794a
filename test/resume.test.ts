// Crash safety: a training process killed (SIGKILL) after its first checkpoint and resumed with
// --resume ends with exactly the weights of an uninterrupted run (bit for bit: the kernels are
// deterministic, data order and augmentation are functions of (seed, epoch, batch), and what the model
// draws itself, FERAtt's clean-face substitution, of (seed, epoch)). PCNN, and FERAtt on composites.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers/index.js';
import { loadSafetensors } from '../src/engine/io/safetensors.js';

const runs = {
  pcnn: ['train', '--width', '1', '--input-size', '32', '--synthetic-count', '48', '--batch', '8', '--epochs', '3', '--step-size', '1', '--seed', '7'],
  // 8 batches an epoch, each drawing whether the classifier sees the clean face (p = 0.2).
  feratt: ['train', '--model', 'feratt', '--width', '2', '--input-size', '64', '--synthetic-count', '56', '--batch', '7', '--epochs', '3', '--seed', '7'],
};

function train(args: string[], out: string, extra: string[] = [], killWhenExists?: string): Promise<{ code: number | null; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/pcnn.mjs'), ...args, '--out', out, ...extra], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    let killed = false;
    const poll = killWhenExists
      ? setInterval(() => {
          if (existsSync(killWhenExists) && !killed) {
            killed = child.kill('SIGKILL');
          }
        }, 20)
      : null;
    child.on('error', reject);
    child.on('exit', (code) => {
      if (poll) clearInterval(poll);
      if (!killed && code !== 0) reject(new Error(`pcnn train exited with ${code}:\n${stderr}`));
      else resolve({ code, killed });
    });
  });
}

for (const [model, args] of Object.entries(runs)) {
test(`${model}: killed after epoch 1 and resumed, training ends with the uninterrupted weights`, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcnn-resume-'));
  try {
    const straight = path.join(dir, 'straight');
    const interrupted = path.join(dir, 'interrupted');
    await train(args, straight);
    const first = await train(args, interrupted, [], path.join(interrupted, 'last.safetensors'));
    assert.ok(first.killed, 'the first run was killed before finishing');
    const partial = await loadSafetensors(path.join(interrupted, 'last.safetensors'));
    assert.ok(JSON.parse(partial.metadata.pcnn).epoch < 3, 'the kill came before the last epoch');
    await train(args, interrupted, ['--resume']);
    const a = await loadSafetensors(path.join(straight, 'last.safetensors'));
    const b = await loadSafetensors(path.join(interrupted, 'last.safetensors'));
    assert.equal(Object.keys(b.tensors).sort(), Object.keys(a.tensors).sort());
    for (const [name, t] of Object.entries(a.tensors)) {
      assert.equal(Array.from(b.tensors[name].data as Float32Array), Array.from(t.data as Float32Array), name);
    }
    const history = (m: Record<string, string>) => JSON.parse(m.pcnn).history.map((h: { trainLoss: number }) => h.trainLoss);
    assert.equal(history(b.metadata), history(a.metadata), 'same losses, epoch by epoch');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
}

test.run();
