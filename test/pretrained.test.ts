// --init-trunks: a torchvision ResNet-18 state dict goes into all six trunks and the shared layer4;
// an RGB conv1 into a grayscale model is summed over its input channels; fc and extras are unused.
// --init-from: a PCNN's weights go everywhere but into the class heads.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import './helpers/index.js';
import { PCNN } from '../src/pcnn/model.js';
import { loadAllButClassHeads, trunkStateFromResnet } from '../src/pcnn/pretrained.js';
import type { StateDict, StateValue } from '../src/nn/module.js';

const host = (value: StateValue) => ('buffer' in value ? [] : value.data) as Float32Array;

/** A torchvision-named ResNet-18 state dict of the model's shapes (RGB conv1), with distinct values. */
async function fakeResnet(model: PCNN): Promise<StateDict> {
  const out: StateDict = {};
  const names: Record<string, string> = { '0': 'conv1', '1': 'bn1', '4': 'layer1', '5': 'layer2', '6': 'layer3' };
  let k = 0;
  for (const [name, t] of Object.entries(model.stateDict())) {
    const parts = name.split('.');
    let resnetName: string | null = null;
    if (parts[0] === 'features1') resnetName = [names[parts[1]], ...parts.slice(2)].join('.');
    if (parts[0] === 'features8') resnetName = ['layer4', ...parts.slice(2)].join('.');
    if (!resnetName) continue;
    const shape = resnetName === 'conv1.weight' ? [t.shape[0], 3, t.shape[2], t.shape[3]] : [...t.shape];
    const size = shape.reduce((a, b) => a * b, 1);
    out[resnetName] = { shape, data: Float32Array.from({ length: size }, (_, i) => (k + i) % 17) };
    k++;
  }
  out['fc.weight'] = { shape: [1000, 4], data: new Float32Array(4000) };
  return out;
}

test('maps conv1, bn1, layer1..3 into the six trunks and layer4 into features8.0', async () => {
  const model = new PCNN({ width: 1, inputSize: [32, 32] });
  const resnet = await fakeResnet(model);
  const { state, unused } = trunkStateFromResnet(resnet, model, 'fake.pth');
  assert.equal(unused, ['fc.weight']);
  model.loadStateDict(state, { strict: false });
  const own = model.stateDict();
  for (const trunk of ['features1', 'features2', 'features3', 'features4', 'features6', 'features7']) {
    assert.equal([...(await own[`${trunk}.5.0.conv2.weight`].toArray())], [...host(resnet['layer2.0.conv2.weight'])]);
    assert.equal([...(await own[`${trunk}.1.running_var`].toArray())], [...host(resnet['bn1.running_var'])]);
  }
  assert.equal([...(await own['features8.0.1.bn2.bias'].toArray())], [...host(resnet['layer4.1.bn2.bias'])]);
  const rgb = host(resnet['conv1.weight']);
  const gray = await own['features4.0.weight'].toArray();
  for (let i = 0; i < gray.length; i++) assert.is(gray[i], rgb[3 * 49 * Math.floor(i / 49) + (i % 49)] + rgb[3 * 49 * Math.floor(i / 49) + 49 + (i % 49)] + rgb[3 * 49 * Math.floor(i / 49) + 98 + (i % 49)]);
  model.dispose();
});

test('a checkpoint of another width is refused naming the entry', async () => {
  const small = new PCNN({ width: 1, inputSize: [32, 32] });
  const resnet = await fakeResnet(small);
  const wide = new PCNN({ width: 2, inputSize: [32, 32] });
  assert.throws(() => trunkStateFromResnet(resnet, wide, 'r18.pth'), /r18\.pth: 'conv1\.weight' has shape \[1,3,7,7\], the model needs \[2,1,7,7\]/);
  small.dispose();
  wide.dispose();
});

test('--init-from: a PCNN of other classes gives every weight and statistic but the class heads', async () => {
  const source = new PCNN({ width: 1, inputSize: [32, 32], numClasses: 8 });
  const target = new PCNN({ width: 1, inputSize: [32, 32], numClasses: 7 });
  const state: StateDict = {};
  let k = 0;
  for (const [name, t] of Object.entries(source.stateDict())) {
    state[name] = { shape: [...t.shape], data: Float32Array.from({ length: t.size }, (_, i) => ((k++ + i) % 13) - 6) };
  }
  const freshHead = await target.stateDict()['fc3.weight'].toArray();
  loadAllButClassHeads(target, state, 'fer.safetensors');
  const own = target.stateDict();
  for (const name of ['features1.0.weight', 'features7.6.1.bn2.running_mean', 'features8.0.0.downsample.1.weight', 'fc_loc.0.weight', 'fc_loc.2.bias']) {
    assert.equal([...(await own[name].toArray())], [...host(state[name])], name);
  }
  assert.equal([...(await own['fc3.weight'].toArray())], [...freshHead]);
  assert.equal(own['fc.weight'].shape, [7, 8]);
  source.dispose();
  target.dispose();
});

test('--init-from: a missing trunk entry or another width is refused naming the file and the entries', async () => {
  const model = new PCNN({ width: 1, inputSize: [32, 32] });
  const wide = new PCNN({ width: 2, inputSize: [32, 32] });
  const partial: StateDict = { ...model.stateDict() };
  delete partial['features3.1.running_var'];
  assert.throws(() => loadAllButClassHeads(model, partial, 'a.safetensors'), /PCNN from a\.safetensors, all but the class heads.*missing: features3\.1\.running_var/);
  assert.throws(() => loadAllButClassHeads(model, wide.stateDict(), 'w2.safetensors'), /w2\.safetensors.*mis-shaped: \d+ entries, as from a model 2x as wide .*: features1\.0\.weight: got \[2,1,7,7\], expected \[1,1,7,7\]/);
  model.dispose();
  wide.dispose();
});

test.run();
