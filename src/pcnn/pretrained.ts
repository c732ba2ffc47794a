/**
 * Starting weights from a model trained elsewhere.
 *
 * `--init-trunks`: like the official code, which starts all six trunks and the shared layer4 from one
 * ResNet-18 checkpoint (MS-Celeb-1M there), map a torchvision ResNet-18 state dict onto PCNN's names:
 * conv1 → features{k}.0, bn1 → .1, layer1..3 → .4..6 for each trunk k, layer4 → features8.0. The
 * classifier (`fc.*`) is not used. An RGB conv1 loaded into a grayscale model is summed over its input
 * channels (the same response to a gray image replicated to RGB).
 *
 * `--init-from`: a PCNN trained on other data (FER2013, say, before CK+, whose label sets differ) starts
 * this one: every parameter and buffer is loaded but those of the class heads (fc, fc2..fc7), which keep
 * their fresh initialisation because their rows would name other classes.
 */
import { loadTensors, type StateDict, type StateValue } from '../nn/module.js';
import { CLASS_HEADS, type PCNN } from './model.js';

/** Loads `state` (a PCNN state dict of the same configuration) into `model`, but for the class heads;
 *  any other missing, unexpected or mis-shaped entry is an error naming `file`. */
export function loadAllButClassHeads(model: PCNN, state: StateDict, file: string): void {
  model.checkRegistrationOf(Object.keys(state), `--init-from ${file}`);
  const isHead = (name: string) => CLASS_HEADS.includes(name.split('.')[0]);
  const own = Object.fromEntries(Object.entries(model.stateDict()).filter(([name]) => !isHead(name)));
  const body = Object.fromEntries(Object.entries(state).filter(([name]) => !isHead(name)));
  loadTensors(own, body, { owner: `PCNN from ${file}, all but the class heads` });
}

const TRUNKS = ['features1', 'features2', 'features3', 'features4', 'features6', 'features7'];
const STEM: Record<string, string> = { conv1: '0', bn1: '1', layer1: '4', layer2: '5', layer3: '6' };

export function trunkStateFromResnet(resnet: StateDict, model: PCNN, file: string): { state: StateDict; unused: string[] } {
  const own = model.stateDict();
  const state: StateDict = {};
  const unused: string[] = [];
  for (const [name, value] of Object.entries(resnet)) {
    const [head, ...rest] = name.split('.');
    const targets =
      head in STEM ? TRUNKS.map((t) => [t, STEM[head], ...rest].join('.')) : head === 'layer4' ? [['features8', '0', ...rest].join('.')] : [];
    if (!targets.length) {
      unused.push(name);
      continue;
    }
    for (const target of targets) {
      if (!(target in own)) throw new Error(`${file}: '${name}' maps to '${target}', which PCNN does not have; is this a torchvision ResNet-18?`);
      state[target] = adapt(value, own[target].shape, name, file);
    }
  }
  const missing = Object.keys(own).filter((k) => (TRUNKS.some((t) => k.startsWith(`${t}.`)) || k.startsWith('features8.')) && !(k in state));
  if (missing.length) throw new Error(`${file}: no value for ${missing.length} trunk entries (${missing.slice(0, 4).join(', ')}, ...)`);
  return { state, unused };
}

function adapt(value: StateValue, shape: readonly number[], name: string, file: string): StateValue {
  if (value.shape.join() === shape.join()) return value;
  const summable = name === 'conv1.weight' && value.shape.length === 4 && value.shape[1] === 3 && shape[1] === 1 &&
    value.shape[0] === shape[0] && value.shape[2] === shape[2] && value.shape[3] === shape[3];
  if (!summable) {
    throw new Error(`${file}: '${name}' has shape [${value.shape}], the model needs [${shape}] (does --width match the checkpoint's 64?)`);
  }
  const data = 'buffer' in value ? null : value.data;
  if (!data) throw new Error(`${file}: '${name}': expected host data`);
  const [o, , kh, kw] = value.shape;
  const plane = kh * kw;
  const out = new Float32Array(o * plane);
  for (let i = 0; i < o; i++) for (let c = 0; c < 3; c++) for (let p = 0; p < plane; p++) out[i * plane + p] += data[(i * 3 + c) * plane + p];
  return { shape, data: out };
}
