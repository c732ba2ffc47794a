// PCNN's eye and cheek trunks run pairwise (src/pcnn/paired.ts: crops stacked along channels, grouped
// convolutions over the two trunks' stacked weights, batch norm over the stacked channels). It must
// compute what the trunks compute alone: outputs, every gradient, running statistics and
// num_batches_tracked after training steps, eval-mode logits; with fewer dispatches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import './helpers/index.js';
import { PCNN } from '../src/pcnn/model.js';
import { pcnnLoss } from '../src/pcnn/loss.js';
import { SGD } from '../src/optim/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { tidy } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';
import { recorder } from '../src/engine/recorder.js';
import { trainStep } from '../src/fer/step.js';

const size = 48;
const batch = { x: Float32Array.from({ length: 4 * size * size }, (_, i) => Math.sin(0.37 * i) + 0.1 * Math.cos(i)), y: Int32Array.from([0, 3, 5, 6]) };

function twin(paired: boolean): PCNN {
  const model = new PCNN({ width: 4, inputSize: [size, size] });
  model.pairLocalTrunks = paired;
  return model;
}

async function stateBits(model: PCNN): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [name, t] of Object.entries(model.stateDict())) {
    const tt = t as Tensor;
    out.set(name, tt.dtype === 'int32' ? Array.from(await tt.toInt32Array()) : Array.from(new Uint32Array((await tt.toArray()).buffer)));
  }
  return out;
}

function compareStates(a: Map<string, number[]>, b: Map<string, number[]>, what: string): void {
  assert.equal([...a.keys()], [...b.keys()], `${what}: state-dict names`);
  for (const [name, v] of a) assert.equal(v, b.get(name), `${what}: ${name}`);
}

test('paired local trunks: logits, every gradient, running statistics and counters as the trunks alone, bit for bit', async () => {
  const [paired, alone] = [twin(true), twin(false)];
  alone.loadStateDict(paired.stateDict());
  const x = tensor(batch.x, [4, 1, size, size]);

  const grads = new Map<string, Map<string, number[]>>();
  const outs: number[][] = [];
  const dispatches: number[] = [];
  for (const model of [paired, alone]) {
    const before = recorder.dispatchCount;
    const out = tidy(() => {
      const { out, heads } = model.forward(x);
      pcnnLoss(out, heads, batch.y).backward();
      return out;
    });
    dispatches.push(recorder.dispatchCount - before);
    outs.push(Array.from(new Uint32Array((await out.toArray()).buffer)));
    out.dispose();
    const g = new Map<string, number[]>();
    for (const [name, p] of model.namedParameters()) {
      g.set(name, p.grad ? Array.from(new Uint32Array((await p.grad.toArray()).buffer)) : []);
      p.grad?.dispose();
      p.grad = null;
    }
    grads.set(model === paired ? 'paired' : 'alone', g);
  }
  assert.equal(outs[0], outs[1], 'logits');
  const [gp, ga] = [grads.get('paired')!, grads.get('alone')!];
  for (const [name, v] of ga) assert.equal(gp.get(name), v, `gradient of ${name}`);
  compareStates(await stateBits(paired), await stateBits(alone), 'after one forward');
  assert.ok(dispatches[0] < dispatches[1] - 100, `fewer dispatches paired (${dispatches[0]}) than alone (${dispatches[1]})`);

  // Training steps through the packed optimizer, then eval-mode inference (folded weights).
  const optimizers = [paired, alone].map((m) => new SGD(m.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }));
  for (let step = 0; step < 2; step++) {
    await trainStep(paired, optimizers[0], batch);
    await trainStep(alone, optimizers[1], batch);
  }
  compareStates(await stateBits(paired), await stateBits(alone), 'after two training steps');
  const logits: number[][] = [];
  for (const model of [paired, alone]) {
    model.eval();
    const out = noGrad(() => tidy(() => model.forward(x).out));
    logits.push(Array.from(new Uint32Array((await out.toArray()).buffer)));
    out.dispose();
  }
  assert.equal(logits[0], logits[1], 'eval-mode logits');
  for (const o of optimizers) o.dispose();
  x.dispose();

  paired.dispose();
  alone.dispose();
});

test.run();
