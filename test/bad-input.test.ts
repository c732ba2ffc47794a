// Malformed input, systematically: damaged images through the public loaders, broken CSV rows, labels
// out of range, checkpoints of another configuration, truncated and hostile checkpoint files, and wrong
// shapes or dtypes to every op src/index.ts exports. Each must end in an Error that names the file or
// the op and says what was expected, or in a counted skip; never in a GPU fault or a silent result.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers/index.js';
import * as api from '../src/index.js';
import { tensor, PCNN, crossEntropy, pcnnLoss, nn, flush } from '../src/index.js';
import { recorder } from '../src/engine/recorder.js';
import { imageFolder, fer2013Csv } from '../src/fer/data/index.js';
import { checkLabels } from '../src/fer/evaluate.js';
import { loadCheckpoint, loadWeights, saveCheckpoint } from '../src/fer/checkpoint.js';
import { decodePth } from '../src/engine/io/pth.js';
import { decodeSafetensors, encodeSafetensors } from '../src/engine/io/safetensors.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'pcnn-bad-input-'));
const fixture = (...parts: string[]) => path.join(repoRoot, 'test', 'fixtures', ...parts);

/** Runs `fn` and returns its error message (sync or async); fails when it does not throw an Error. */
async function messageOf(fn: () => unknown, what: string): Promise<string> {
  try {
    await fn();
  } catch (error) {
    assert.instance(error, Error, `${what}: threw a non-Error`);
    return (error as Error).message;
  }
  throw new Error(`${what}: expected an Error, none was thrown`);
}

// ---------------------------------------------------------------- images

/** Damaged versions of good fixtures: each must fail to decode (and so be skipped, naming the file). */
function damagedImages(): Record<string, Uint8Array> {
  const png = readFileSync(fixture('data', 'rgb.png'));
  const jpg = readFileSync(fixture('data', 'rgb.jpg'));
  const flippedCrc = Uint8Array.from(png);
  flippedCrc[png.indexOf('IDAT') + 6] ^= 0xff; // a byte of the compressed data: the chunk CRC no longer matches
  return {
    'empty.png': new Uint8Array(0),
    'signature-only.png': png.subarray(0, 8),
    'cut-header.png': png.subarray(0, 20),
    'cut-data.png': png.subarray(0, png.length - 20),
    'bad-crc.png': flippedCrc,
    'truncated.png': readFileSync(fixture('data', 'truncated.png')),
    'cut.jpg': jpg.subarray(0, 100),
    'soi-only.jpg': jpg.subarray(0, 3),
    'text.jpg': new TextEncoder().encode('not an image at all'),
  };
}

test('images: every kind of damaged PNG/JPEG among good ones is skipped, counted and named', () => {
  const root = path.join(scratch, 'images');
  const damaged = damagedImages();
  const good = ['gray8.png', 'rgb.png', 'rgba.png', 'palette.png', 'gray.jpg', 'rgb.jpg'];
  for (const cls of ['a', 'b']) {
    mkdirSync(path.join(root, cls), { recursive: true });
    for (const name of good) copyFileSync(fixture('data', name), path.join(root, cls, name));
  }
  for (const [name, bytes] of Object.entries(damaged)) writeFileSync(path.join(root, 'b', name), bytes);
  const loaded = imageFolder(root, { size: [8, 8], maxSkipFraction: 0.5 });
  assert.is(loaded.samples.length, 2 * good.length, 'every good image loads');
  assert.equal(loaded.skipped.map((s) => path.basename(s.file)).sort(), Object.keys(damaged).sort(), 'every damaged one is skipped');
  for (const { file, reason } of loaded.skipped) assert.ok(reason.includes(file), `the reason names the file: ${reason}`);
  // Beyond the allowed fraction the loader refuses the dataset, naming the count and the first files.
  assert.throws(
    () => imageFolder(root, { size: [8, 8] }), /^imageFolder: 9 of 21 images could not be decoded, more than the allowed fraction 0\.01; first: .*b[\\/]/,
  );
});

test('images: a single bad file is an error naming it; an empty class folder is an error naming it', () => {
  for (const [name, bytes] of Object.entries(damagedImages())) {
    const root = path.join(scratch, `single-${name}`);
    mkdirSync(path.join(root, 'only'), { recursive: true });
    writeFileSync(path.join(root, 'only', name), bytes);
    assert.throws(() => imageFolder(root), new RegExp(`1 of 1 images .*only[\\\\/]${name.replace('.', '\\.')}`), name);
  }
  const root = path.join(scratch, 'empty-class');
  mkdirSync(path.join(root, 'full'), { recursive: true });
  mkdirSync(path.join(root, 'hollow'));
  copyFileSync(fixture('data', 'gray8.png'), path.join(root, 'full', 'x.png'));
  writeFileSync(path.join(root, 'hollow', 'readme.txt'), 'no image here');
  assert.throws(() => imageFolder(root), /imageFolder: class folder .*hollow holds no image file/);
});

// ---------------------------------------------------------------- CSV rows and labels

test('fer2013 CSV: wrong pixel counts, non-numeric values and labels out of range name the line', () => {
  const file = path.join(scratch, 'fer.csv');
  const pixels = (n: number, v = '7') => Array(n).fill(v).join(' ');
  const cases: [string, RegExp][] = [
    [`3,${pixels(2303)},Training`, /fer\.csv:3 has 2303 pixels, expected 2304 \(48x48\)/],
    [`3,${pixels(2305)},Training`, /fer\.csv:3 has 2305 pixels, expected 2304/],
    [`3,,Training`, /fer\.csv:3 has 1 pixels, expected 2304/],
    [`3,${pixels(2303)} 1e2,Training`, /fer\.csv:3 pixel 2303 is '1e2', expected an integer in 0\.\.255/],
    [`3,${pixels(2303)} -1,Training`, /fer\.csv:3 pixel 2303 is '-1', expected an integer in 0\.\.255/],
    [`3,${pixels(2304, 'NaN')},Training`, /fer\.csv:3 pixel 0 is 'NaN'/],
    [`7,${pixels(2304)},Training`, /fer\.csv:3 has emotion '7', expected an integer in 0\.\.6/],
    [`-1,${pixels(2304)},Training`, /fer\.csv:3 has emotion '-1'/],
    [`happy,${pixels(2304)},Training`, /fer\.csv:3 has emotion 'happy'/],
    [`3,${pixels(2304)}`, /fer\.csv:3 has 2 fields, expected 3/],
  ];
  for (const [row, message] of cases) {
    writeFileSync(file, `emotion,pixels,Usage\n0,${pixels(2304)},Training\n${row}\n`);
    assert.throws(() => fer2013Csv(file), message, row.slice(0, 20));
  }
  writeFileSync(file, `label,pixels\n0,${pixels(2304)}\n`);
  assert.throws(() => fer2013Csv(file), /fer\.csv has no column 'emotion' \(header: label,pixels\)/);
});

test('labels out of range: crossEntropy and pcnnLoss with host labels, the trainer\'s checkLabels', async () => {
  const before = recorder.dispatchCount;
  const logits = api.empty([3, 4]);
  for (const bad of [-1, 4, 2 ** 31 - 1]) {
    const labels = Int32Array.of(0, bad, 1);
    assert.throws(() => crossEntropy(logits, labels), new RegExp(`crossEntropy: label ${bad} at index 1 is outside \\[0, 4\\)`));
    assert.throws(() => pcnnLoss(logits, logits, labels), new RegExp(`label ${bad} at index 1 is outside \\[0, 4\\)`));
    assert.throws(() => checkLabels(labels, 4), new RegExp(`label ${bad} at row 1 of a batch is outside 0\\.\\.3 \\(--classes 4\\)`));
  }
  assert.throws(() => crossEntropy(logits, Int32Array.of(0, 1)), /crossEntropy: 2 labels for logits of 3 rows/);
  assert.is(recorder.dispatchCount, before, 'labels are checked before any kernel runs');
  logits.dispose();
});

// ---------------------------------------------------------------- checkpoints

test('a checkpoint of another configuration: loadStateDict counts the mis-shaped entries, lists the first 5 and sees the width', async () => {
  const file = path.join(scratch, 'width2.safetensors');
  const wide = new PCNN({ width: 2, inputSize: [32, 32] });
  await saveCheckpoint(file, { model: wide, meta: { config: wide.config, classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] } });
  wide.dispose();
  const narrow = new PCNN({ width: 1, inputSize: [32, 32] });
  const saved = await loadCheckpoint(file);
  const message = await messageOf(() => narrow.loadStateDict(saved.model), 'width 2 into width 1');
  const misShaped = Object.keys(saved.model).filter((k) => saved.model[k].shape.join() !== narrow.stateDict()[k].shape.join());
  assert.ok(misShaped.length > 50, `${misShaped.length} entries differ`);
  const head = `loadStateDict (PCNN): mis-shaped: ${misShaped.length} entries, as from a model 2x as wide (every size that differs is 2x the model's): `;
  assert.ok(message.startsWith(head), `'${message.slice(0, 300)}' should start with '${head}'`);
  const listed = misShaped.slice(0, 5).map((k) => `${k}: got [${saved.model[k].shape}], expected [${narrow.stateDict()[k].shape}]`);
  assert.is(message, `${head}${listed.join('; ')}; and ${misShaped.length - 5} more`);
  assert.match(message, /features1\.0\.weight: got \[2,1,7,7\], expected \[1,1,7,7\]/);
  // Other class counts scale one size of a few tensors: no width guessed; fewer than 6 entries are listed whole.
  const other = new PCNN({ width: 1, inputSize: [32, 32], numClasses: 6 });
  const classes = await messageOf(() => other.loadStateDict(narrow.stateDict()), '7 classes into 6');
  assert.match(classes, /^loadStateDict \(PCNN\): mis-shaped: \d+ entries: fc\.weight: got \[7,8\], expected \[6,8\]; /);
  const wider = new PCNN({ width: 2, inputSize: [32, 32], numClasses: 6 });
  const both = await messageOf(() => wider.loadStateDict(saved.model), 'width 2, 7 classes into 6');
  assert.not.match(both, /as wide/, 'width and classes both differ: no factor fits');
  const fc = await messageOf(() => other.fc.loadStateDict({ weight: narrow.fc.weight, bias: narrow.fc.bias! }), 'fc');
  assert.is(fc, 'loadStateDict (Linear): mis-shaped: 2 entries: weight: got [7,8], expected [6,8]; bias: got [7], expected [6]');
  const narrower = await messageOf(() => narrow.loadStateDict(wider.stateDict(), { strict: false }), 'width 2 into width 1, 6 classes');
  assert.not.match(narrower, /as wide/, 'width and classes both differ');
  const half = new PCNN({ width: 1, inputSize: [32, 32] });
  const wide2 = new PCNN({ width: 2, inputSize: [32, 32] });
  assert.match(await messageOf(() => wide2.loadStateDict(half.stateDict()), 'width 1 into 2'), /entries, as from a model 0\.5x as wide \(every size that differs is 0\.5x the model's\): /);
  for (const m of [half, wide2]) m.dispose();
  for (const m of [narrow, other, wider]) m.dispose();
});

test('loadStateDict refuses a tensor of another dtype, naming the entry and both dtypes; host data is converted', async () => {
  const bn = new nn.BatchNorm2d(2);
  const before = await bn.weight!.toArray();
  const intWeight = tensor(Int32Array.from([3, 4]), [2]);
  const floatCount = tensor([7], []);
  // Copied as bytes, int32 3 would become the float 4e-45 and float 7 the count 1088421888.
  const message = await messageOf(
    () => bn.loadStateDict({ weight: intWeight, num_batches_tracked: floatCount }, { strict: false }),
    'int32 weight, float32 count',
  );
  assert.match(message, /^loadStateDict \(BatchNorm2d\): of another dtype \(a tensor is copied as it is, not converted\): /);
  assert.match(message, /weight: got int32, expected float32/);
  assert.match(message, /num_batches_tracked: got float32, expected int32/);
  assert.equal(await bn.weight!.toArray(), before, 'nothing was loaded');
  // Host data (what a checkpoint reader hands over) converts by value, as PyTorch's copy_ does.
  bn.loadStateDict({ weight: { shape: [2], data: Int32Array.from([3, 4]) }, num_batches_tracked: { shape: [], data: [7] } }, { strict: false });
  assert.equal([...(await bn.weight!.toArray())], [3, 4]);
  assert.is(await bn.numBatchesTracked!.item(), 7);
  for (const t of [intWeight, floatCount]) t.dispose();
  bn.dispose();
});

/** Every proper prefix of `bytes` must be refused by `load` with a message naming `name`. */
async function everyTruncation(bytes: Uint8Array, name: string, load: (b: Uint8Array) => unknown): Promise<void> {
  for (let length = 0; length < bytes.length; length++) {
    const message = await messageOf(() => load(bytes.subarray(0, length)), `${name} cut to ${length} bytes`);
    assert.ok(message.includes(name), `${name} cut to ${length} bytes: '${message}' should name the file`);
  }
}

test('truncated safetensors and .pth files: every prefix is refused with an error naming the file', async () => {
  const saved = encodeSafetensors({ w: { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) } }, { pcnn: '{"epoch":1}' });
  await everyTruncation(saved, 'cut.safetensors', (b) => decodeSafetensors(b, 'cut.safetensors'));
  await everyTruncation(readFileSync(fixture('pth', 'plain.pth')), 'cut.pth', (b) => decodePth(b, 'cut.pth'));
  // Through the loader a user calls, from disk.
  const file = path.join(scratch, 'half.pth');
  const plain = readFileSync(fixture('pth', 'plain.pth'));
  writeFileSync(file, plain.subarray(0, plain.length >> 1));
  assert.match(await messageOf(() => loadWeights(file), 'half.pth'), /half\.pth/);
  const model = path.join(scratch, 'half.safetensors');
  writeFileSync(model, saved.subarray(0, saved.length - 4));
  assert.match(await messageOf(() => loadCheckpoint(model), 'half.safetensors'), /half\.safetensors: .*truncated/);
});

test('a .pth that pickles os.system is refused through loadWeights and never runs', async () => {
  const marker = JSON.parse(readFileSync(fixture('pth', 'expected.json'), 'utf8')).evilMarker as string;
  rmSync(marker, { force: true });
  const message = await messageOf(() => loadWeights(fixture('pth', 'evil.pth')), 'evil.pth');
  assert.match(message, /evil\.pth: pickled object 'os\.system' is not a tensor: refusing to load/);
  assert.not.ok(existsSync(marker), 'the pickled command did not run');
});

// ---------------------------------------------------------------- every public op

// Uninitialised inputs: shapes are all that matter, and empty() dispatches nothing (tensor() only copies).
const t = (...shape: number[]) => api.empty(shape);
const ints = (...shape: number[]) => tensor(new Int32Array(shape.reduce((a, b) => a * b, 1)), shape);

/** For each public op: calls with bad shapes (or dtypes) and what the message must say. */
const opCases: Record<string, [() => unknown, RegExp][]> = {
  erf: [[() => api.erf(ints(3)), /erf: input must be a float32 tensor, got int32 of shape \[3\]/]],
  gelu: [
    [() => api.gelu(ints(3)), /gelu: input must be a float32 tensor, got int32 of shape \[3\]/],
    [() => api.gelu(t(3), { approximate: 'x' as never }), /gelu: approximate must be 'none' or 'tanh', got "x"/],
  ],
  layerNorm: [[() => api.layerNorm(t(2, 3), [4]), /layerNorm: normalizedShape \[4\] must equal the trailing dimensions of the input, got input shape \[2,3\]/]],
  scaledDotProductAttention: [
    [
      () => api.scaledDotProductAttention(t(1, 2, 3, 4), t(1, 2, 5, 8), t(1, 2, 5, 4)),
      /scaledDotProductAttention: key must be \[\.\.\., S, E\] with the query's E = 4 .* got query \[1,2,3,4\], key \[1,2,5,8\], value \[1,2,5,4\]/,
    ],
  ],
  attentionGraph: [[() => api.attentionGraph(new Int32Array([0, 5]), 3), /attentionGraph: edge 0 \(0 -> 5\): its target 5 is out of range for 3 nodes \(expected 0\.\.2\)/]],
  graphAttention: [
    [
      () => api.graphAttention(t(3, 2, 4), t(3, 2), t(3, 2), api.attentionGraph(new Int32Array([0, 1, 1, 2]), 4), 0.2),
      /graphAttention: h has 3 nodes, the graph 4/,
    ],
  ],
  add: [
    [() => api.add(t(2, 3), t(4)), /add: shapes \[2,3\] and \[4\] cannot be broadcast together/],
    [() => api.add(t(2), ints(2)), /add: other must be a float32 tensor, got int32 of shape \[2\]/],
  ],
  sub: [[() => api.sub(t(2, 3), t(2, 2)), /sub: shapes \[2,3\] and \[2,2\] cannot be broadcast/]],
  mul: [[() => api.mul(t(3, 1, 2), t(4, 3)), /mul: shapes \[3,1,2\] and \[4,3\] cannot be broadcast/]],
  div: [[() => api.div(t(5), t(4)), /div: shapes \[5\] and \[4\] cannot be broadcast/]],
  pow: [[() => api.pow(t(3), t(2)), /pow: shapes \[3\] and \[2\] cannot be broadcast/]],
  neg: [[() => api.neg(ints(3)), /neg: input must be a float32 tensor, got int32 of shape \[3\]/]],
  exp: [[() => api.exp(ints(3)), /exp: input must be a float32 tensor, got int32 of shape \[3\]/]],
  log: [[() => api.log(ints(2, 2)), /log: input must be a float32 tensor, got int32 of shape \[2,2\]/]],
  sqrt: [[() => api.sqrt(ints(1)), /sqrt: input must be a float32 tensor, got int32/]],
  relu: [[() => api.relu(ints(1)), /relu: input must be a float32 tensor, got int32/]],
  dropout: [
    [() => api.dropout(ints(2)), /dropout: input must be a float32 tensor, got int32 of shape \[2\]/],
    [() => api.dropout(t(2), { p: 1.5 }), /dropout: p must be a probability in \[0, 1\], got 1\.5/],
  ],
  leakyRelu: [
    [() => api.leakyRelu(ints(2)), /leakyRelu: input must be a float32 tensor, got int32 of shape \[2\]/],
    [() => api.leakyRelu(t(2), NaN), /leakyRelu: negativeSlope must be a finite number, got NaN/],
  ],
  clamp: [
    [() => api.clamp(t(2, 3)), /clamp: expected at least one of min and max, got neither/],
    [() => api.clamp(t(2, 3), { min: 1, max: -1 }), /clamp: min 1 is greater than max -1/],
    [() => api.clamp(ints(2, 3), { max: 1 }), /clamp: input must be a float32 tensor, got int32 of shape \[2,3\]/],
  ],
  sigmoid: [[() => api.sigmoid(ints(1)), /sigmoid: input must be a float32 tensor, got int32/]],
  tanh: [[() => api.tanh(ints(1)), /tanh: input must be a float32 tensor, got int32/]],
  sum: [
    [() => api.sum(t(2, 3), 2), /sum: dimension 2 out of range for a 2-D tensor \(expected -2\.\.1\)/],
    [() => api.sum(ints(2, 3)), /sum: input must be a float32 tensor, got int32 of shape \[2,3\]/],
  ],
  mean: [
    [() => api.mean(t(2, 3), [0, 0]), /mean: dimension 0 appears more than once/],
    [() => api.mean(t(0, 3), 0), /mean: reduces over 0 elements \(shape \[0,3\]/],
  ],
  max: [
    [() => api.max(t(2, 3), -3), /max: dimension -3 out of range for a 2-D tensor/],
    [() => api.max(ints(4), 0), /max: input must be a float32 tensor, got int32 of shape \[4\]/],
  ],
  reshape: [[() => api.reshape(t(2, 3), [4, 2]), /reshape: cannot view shape \[2,3\] \(6 elements\) as \[4,2\]/]],
  permute: [
    [() => api.permute(t(2, 3), [0]), /permute: dims \[0\] are not a permutation of the 2 dimensions of shape \[2,3\]/],
    [() => api.permute(ints(2, 3), [1, 0]), /permute: input must be a float32 tensor, got int32 of shape \[2,3\]/],
  ],
  transpose: [[() => api.transpose(t(2, 3), 0, 2), /transpose: dimension 2 out of range for a 2-D tensor/]],
  narrow: [[() => api.narrow(t(2, 3), 1, 2, 2), /narrow: start 2 and length 2 do not fit dimension 1 of size 3 \(shape \[2,3\]\)/]],
  cat: [
    [() => api.cat([t(2, 3), t(2, 4)], 0), /cat: tensor 1 has shape \[2,4\], tensor 0 has shape \[2,3\]; all sizes must match except along dimension 0/],
    [() => api.cat([t(2, 3), ints(2, 3)], 0), /cat: input must be a float32 tensor, got int32 of shape \[2,3\]/],
  ],
  pad: [[() => api.pad(t(2, 3), [1, 1, 1]), /pad: pads \[1,1,1\] for a tensor of shape \[2,3\]; expected an even number of integers/]],
  flatten: [[() => api.flatten(t(2, 3), 2), /flatten: dimension 2 out of range for a 2-D tensor/]],
  matmul: [
    [() => api.matmul(t(2, 3), t(4, 5)), /matmul: shapes \[2,3\] and \[4,5\] cannot be multiplied \(a has 3 columns, b has 4 rows/],
    [() => api.matmul(t(2, 3), ints(3, 4)), /matmul: b must be a float32 tensor, got int32 of shape \[3,4\]/],
    [() => api.matmul(t(2, 2, 3), t(3, 3, 4)), /matmul: batch dimensions \[2\] of a \[2,2,3\] and \[3\] of b \[3,3,4\] cannot be broadcast together \(size 2 vs 3 at dimension 0/],
  ],
  linear: [
    [() => api.linear(t(2, 3), t(4, 5)), /linear: input of shape \[2,3\] must end in in_features = 5 \(weight \[4,5\]\)/],
    [() => api.linear(t(2, 3), t(4, 3), t(5)), /linear: bias must have shape \[4\] \(weight \[4,3\]\), got \[5\]/],
  ],
  softmax: [[() => api.softmax(t(2, 3), 2), /softmax: dim 2 is out of range for a tensor of shape \[2,3\]/]],
  logSoftmax: [[() => api.logSoftmax(ints(2, 3), 1), /logSoftmax: input must be a float32 tensor, got int32 of shape \[2,3\]/]],
  crossEntropy: [
    [() => api.crossEntropy(t(2, 3, 4), new Int32Array(2)), /crossEntropy: expected logits of shape \[N, C\] with C >= 1, got \[2,3,4\]/],
    [() => api.crossEntropy(t(2, 3), t(2) as never), /crossEntropy: labels must be an Int32Array of 2 class indices \(one per row\), got a float32 tensor \[2\]/],
  ],
  conv2d: [
    [() => api.conv2d(t(1, 3, 5, 5), t(4, 2, 3, 3)), /conv2d: input \[1,3,5,5\] has 3 channels but weight \[4,2,3,3\] expects 2/],
    [() => api.conv2d(t(3, 5, 5), t(4, 3, 3, 3)), /conv2d: expected a 4-D input \(N, C, H, W\), got shape \[3,5,5\]/],
    [() => api.conv2d(t(1, 3, 2, 2), t(4, 3, 3, 3)), /conv2d: kernel \[3, 3\] with dilation \[1,1\] spans 3×3, larger than the padded input 2×2/],
    [() => api.conv2d(t(1, 3, 5, 5), t(4, 3, 3, 3), t(3)), /conv2d: bias has shape \[3\], expected \[4\]/],
    [() => api.conv2d(ints(1, 3, 5, 5), t(4, 3, 3, 3)), /conv2d: input must be a float32 tensor, got int32 of shape \[1,3,5,5\]/],
  ],
  conv2dFused: [
    [() => api.conv2dFused(t(1, 3, 5, 5), t(4, 3, 3, 3), null, { residual: t(1, 4, 5, 5) }), /residual has shape \[1,4,5,5\], expected the output shape \[1,4,3,3\]/],
  ],
  foldBatchNorm: [
    [() => api.foldBatchNorm(t(4, 3, 3, 3), null, t(4), t(3), t(4), t(4)), /foldBatchNorm: runningVar has shape \[3\], expected \[4\] for weight \[4,3,3,3\]/],
    [() => api.foldBatchNorm(ints(4, 3, 3, 3), null, t(4), t(4), t(4), t(4)), /foldBatchNorm: weight must be a float32 tensor, got int32 of shape \[4,3,3,3\]/],
  ],
  batchNorm2d: [
    [() => api.batchNorm2d(t(2, 3, 4, 4), t(4), t(4), null, null), /batchNorm2d: runningMean .*shape \[3\].*input \[2,3,4,4\].*\[4\]/],
    [() => api.batchNorm2d(t(2, 3), t(3), t(3), null, null), /batchNorm2d: expected a 4-D input \(N, C, H, W\), got shape \[2,3\]/],
    [() => api.batchNorm2d(t(1, 3, 1, 1), null, null, null, null, { training: true }), /batchNorm2d: expected more than 1 value per channel when training, got input \[1,3,1,1\]/],
  ],
  maxPool2d: [[() => api.maxPool2d(t(1, 1, 2, 2), { kernelSize: 3 }), /maxPool2d: input \[1,1,2,2\] gives output size 1x0x0, which is too small/]],
  avgPool2d: [[() => api.avgPool2d(t(2, 2), { kernelSize: 1 }), /avgPool2d: expected a 4-D input \(N, C, H, W\).*got shape \[2,2\]/]],
  adaptiveAvgPool2d: [[() => api.adaptiveAvgPool2d(ints(1, 1, 2, 2), 1), /adaptiveAvgPool2d: input must be a float32 tensor, got int32 of shape \[1,1,2,2\]/]],
  interpolate: [
    [() => api.interpolate(t(2, 2), { size: [3, 3] }), /interpolate: expected a 4-D input \(N, C, H, W\), got shape \[2,2\]/],
    [() => api.interpolate(ints(1, 1, 2, 2), { size: [3, 3] }), /interpolate: input must be a float32 tensor, got int32 of shape \[1,1,2,2\]/],
  ],
  affineGrid: [
    [() => api.affineGrid(t(1, 3, 2), [1, 1, 4, 4]), /affineGrid: expected theta of shape \[N, 2, 3\], got \[1,3,2\]/],
    [() => api.affineGrid(t(1, 2, 3), [2, 1, 4, 4]), /affineGrid: size \[2,1,4,4\] has batch 2 but theta \[1,2,3\] has batch 1/],
    [() => api.affineGrid(ints(1, 2, 3), [1, 1, 4, 4]), /affineGrid: theta must be a float32 tensor, got int32 of shape \[1,2,3\]/],
  ],
  gridSample: [
    [() => api.gridSample(t(1, 1, 4, 4), t(2, 3, 3, 2)), /gridSample: expected grid of shape \[1, Ho, Wo, 2\] for input \[1,1,4,4\], got \[2,3,3,2\]/],
    [() => api.gridSample(t(1, 1, 4, 4), ints(1, 3, 3, 2)), /gridSample: grid must be a float32 tensor, got int32 of shape \[1,3,3,2\]/],
  ],
  multiDomainFusion: [
    [
      () => api.multiDomainFusion(t(1, 2, 2, 2), t(1, 3, 2, 2), t(1, 2, 2, 2), t(1, 2, 2, 2), t(1, 2, 2, 4), [4, 4]),
      /multiDomainFusion: rightEye has shape \[1,3,2,2\], but every map must share leftEye's batch and channels \[1,2\]/,
    ],
    [
      () => api.multiDomainFusion(t(1, 2, 2, 2), t(1, 2, 2, 2), t(1, 2, 2, 2), t(1, 2, 2, 2), ints(1, 2, 2, 4), [4, 4]),
      /multiDomainFusion: mouth must be a float32 tensor, got int32 of shape \[1,2,2,4\]/,
    ],
  ],
  pcnnLoss: [
    [() => api.pcnnLoss(t(2, 7), t(2, 6), new Int32Array(2)), /pcnnLoss: out \[2,7\] and heads \[2,6\] must both be logits of shape \[N, classes\]/],
  ],
  dgmmLoss: [
    [() => api.dgmmLoss(t(2, 3, 1), [0, 1], 2), /dgmmLoss: expected embeddings \[N, dim\] with N >= 1, got \[2,3,1\]/],
    [() => api.dgmmLoss(ints(2, 3), [0, 1], 2), /dgmmLoss: z must be a float32 tensor, got int32 of shape \[2,3\]/],
    [() => api.dgmmLoss(t(2, 3), [0, 2], 2), /dgmmLoss: label 2 at 1 is not a class index in \[0, 2\)/],
    [() => api.dgmmLoss(t(2, 3), [0], 2), /dgmmLoss: 1 labels for 2 embeddings/],
  ],
  attentionLoss: [
    [() => api.attentionLoss(t(1, 3, 4, 4), t(1, 3, 4, 5)), /attentionLoss: clean \[1,3,4,4\] and attended \[1,3,4,5\] must have one shape/],
    [() => api.attentionLoss(t(1, 3, 4, 4), ints(1, 3, 4, 4)), /attentionLoss: attended must be a float32 tensor, got int32 of shape \[1,3,4,4\]/],
  ],
  ferattLoss: [
    [() => api.ferattLoss({ z: t(2, 4), logits: t(2, 3), attended: t(2, 3, 4, 4) }, [0, 1], t(2, 3, 4, 5)), /ferattLoss: target \[2,3,4,5\] and attended \[2,3,4,4\] must have one shape/],
    [() => api.ferattLoss({ z: t(3, 4), logits: t(2, 3), attended: t(2, 3, 4, 4) }, [0, 1], t(2, 3, 4, 4)), /ferattLoss: z \[3,4\] must be \[N, dim\] for logits \[2,3\]/],
    [() => api.ferattLoss({ z: t(2, 4), logits: t(2, 3), attended: t(2, 3, 4, 4) }, [0, 3], t(2, 3, 4, 4)), /ferattLoss: label 3 at 1 is not a class index in \[0, 3\)/],
  ],
  gmmAccuracy: [
    [() => api.gmmAccuracy([1, 2, 3], [0, 1], 2), /gmmAccuracy: 3 values are not rows of dim 2/],
    [() => api.gmmAccuracy([1, 2, 3, 4], [0], 2), /gmmAccuracy: 1 labels for 2 embeddings/],
  ],
};

/** Exports of src/index.ts that are not ops on tensors (device, creation, scopes, io, classes, namespaces). */
const notOps = new Set([
  'init', 'release', 'gpu', 'Tensor', 'tensor', 'empty', 'zeros', 'ones', 'full', 'randn', 'rand', 'upload', 'tidy', 'keep',
  'noGrad', 'isGradEnabled', 'flush', 'pool', 'Generator', 'manualSeed', 'nn', 'optim', 'encodeSafetensors',
  'decodeSafetensors', 'PCNN', 'cropBoxes', 'FERAtt', 'ferattSize', 'ARPGNet',
  // The graph's host-side structure and its asynchronous reader (attentionGraph, which checks edges, has cases).
  'AttentionGraph', 'readEdgeIndex',
  // ARPGNet's attention for its pictures: a forward of the model (which checks its input) and host-side helpers.
  'arpgnetAttention', 'attentionStroke', 'undirectedAttention',
]);

test('every public op has bad-input cases (a new export without them fails here)', () => {
  const ops = Object.keys(api).filter((name) => !notOps.has(name)).sort();
  assert.equal(Object.keys(opCases).sort(), ops);
});

test('wrong shapes and dtypes to every public op: an Error naming the op and the shapes, before any dispatch', () => {
  for (const [op, cases] of Object.entries(opCases)) {
    for (const [call, message] of cases) {
      api.tidy(() => {
        const before = recorder.dispatchCount;
        assert.throws(call, message, op);
        assert.is(recorder.dispatchCount, before, `${op}: refused before any dispatch (${message})`);
      });
    }
  }
  flush(); // and no GPU error was left behind by any of them
});

test('modules and the model name the layer and the expected shape', () => {
  const cases: [() => unknown, RegExp][] = [
    [() => new nn.Linear(3, 4).forward(t(2, 5)), /linear: input of shape \[2,5\] must end in in_features = 3 \(weight \[4,3\]\)/],
    [() => new nn.Conv2d(3, 4, 3).forward(t(1, 2, 5, 5)), /conv2d: input \[1,2,5,5\] has 2 channels but weight \[4,3,3,3\] expects 3/],
    [() => new nn.MaxPool2d({ kernelSize: 2 }).forward(t(4, 4)), /maxPool2d: expected a 4-D input/],
    [() => new nn.Dropout(-0.1), /Dropout: p must be a probability in \[0, 1\], got -0\.1/],
    [() => new nn.LeakyReLU(Infinity), /LeakyReLU: negativeSlope must be a finite number, got Infinity/],
    [() => new nn.LeakyReLU(0.2).forward(ints(2)), /leakyRelu: input must be a float32 tensor, got int32 of shape \[2\]/],
    [() => new PCNN({ width: 1, inputSize: [32, 32] }).forward(t(1, 1, 48, 48)), /PCNN\.forward: expected input \[N, 1, 32, 32\], got \[1,1,48,48\]/],
    [() => new PCNN({ width: 1, inputSize: [4, 4] }), /PCNN: input size 4x4 gives an empty leftCheek crop \(0x2\)/],
    [() => new PCNN({ width: 1, inChannels: 2 }), /PCNN: inChannels must be 1 or 3, got 2/],
    [() => new PCNN({ width: 0 }), /PCNN: width must be a positive integer, got 0/],
    [() => new api.FERAtt({ inputSize: 96 }), /FERAtt: inputSize \[96,96\] is not supported: each side must be 128 \(official\), 192, or 64 \(ours\)/],
    [() => new api.ARPGNet({ inChannels: 1, width: 0, numClasses: 7, inputSize: [48, 48] }), /ARPGNet: width must be an integer >= 1, got 0/],
    [() => api.ferattSize({ width: 3 }), /FERAtt: width must be an even integer >= 2/],
  ];
  for (const [call, message] of cases) api.tidy(() => assert.throws(call, message));
});

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test.run();
