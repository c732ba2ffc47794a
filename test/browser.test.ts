// The browser: the shipped bundle (dist/pcnn-webgpu.js) running the demo page in headless Chromium on
// its WebGPU adapter, checked against this process (Node, Dawn) on the same checkpoint, image and
// training recipe. Skipped, with a line saying so, where Debian's chromium is not installed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { PCNN, keep, manualSeed, mean, noGrad, tensor, tidy } from '../src/index.js';
import { saveCheckpoint } from '../src/fer/checkpoint.js';
import { prepareImage } from '../src/fer/data/image.js';
import { evalTransform } from '../src/fer/data/augment.js';
import { SYNTHETIC_CLASSES, syntheticFace, syntheticFaces } from '../src/fer/data/synthetic.js';
import { trainSynthetic, type StepRecord } from '../web/train.js';
import { assertClose } from './helpers/index.js';
import { CHROMIUM, openDemoPage, serveSite, type DemoPage, type Site } from './browser/demo-page.js';

const browser = suite('browser');
const SIZE = 48;

/** Float32 results of different adapters (SwiftShader there, lavapipe here) and kernel variants. */
const FLOAT32 = { atol: 1e-4, rtol: 1e-4 };

let site: Site;
let demo: DemoPage;
let scratch: string;

/** A width-2 model whose eval-mode forward depends on every kind of tensor of its checkpoint. */
function tinyModel(): PCNN {
  manualSeed(3);
  const model = new PCNN({ width: 2, inChannels: 1, inputSize: [SIZE, SIZE], numClasses: SYNTHETIC_CLASSES.length });
  // One training-mode pass moves BatchNorm's running statistics off their (0, 1) start.
  const { images } = syntheticFaces({ count: 4, size: SIZE, seed: 9 });
  const x = new Float32Array(4 * SIZE * SIZE);
  images.forEach((image, i) => x.set(evalTransform(image, [1, SIZE, SIZE]), i * SIZE * SIZE));
  noGrad(() => tidy(() => void model.forward(tensor(x, [4, 1, SIZE, SIZE]))));
  model.eval();
  return model;
}

/** A synthetic face as an 8-bit gray PNG (RGB with R = G = B): decoded by Chromium there, pngjs here. */
function facePng(file: string): void {
  const face = syntheticFace(17, 5, SIZE, 1);
  const png = new PNG({ width: SIZE, height: SIZE });
  face.forEach((v, p) => png.data.set([Math.round(255 * v), Math.round(255 * v), Math.round(255 * v), 255], 4 * p));
  writeFileSync(file, PNG.sync.write(png));
}

if (!existsSync(CHROMIUM)) {
  console.log(`browser: SKIPPED, no ${CHROMIUM} (Debian's chromium; \`bash scripts/setup.sh\` installs it)`);
}
const check = existsSync(CHROMIUM) ? browser : browser.skip;

browser.before(async () => {
  if (!existsSync(CHROMIUM)) return;
  scratch = mkdtempSync(path.join(tmpdir(), 'pcnn-browser-'));
  site = await serveSite();
  demo = await openDemoPage(site);
  const { status } = await demo.state();
  if (status !== 'ready') throw new Error(`demo page: WebGPU not ready (${status}): ${await demo.page.textContent('#status')}`);
});

browser.after(async () => {
  await demo?.close();
  site?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

check('predict panel: a checkpoint and a PNG give the logits and maps Node computes', async () => {
  const model = tinyModel();
  const checkpoint = path.join(scratch, 'tiny.safetensors');
  await saveCheckpoint(checkpoint, { model, meta: { config: model.config, classNames: SYNTHETIC_CLASSES } });
  const image = path.join(scratch, 'face.png');
  facePng(image);

  const x = evalTransform(prepareImage(readFileSync(image), image, 1, [SIZE, SIZE]), [1, SIZE, SIZE]);
  const outputs = noGrad(() =>
    tidy(() => {
      const d = model.forwardDetailed(tensor(x, [1, 1, SIZE, SIZE]));
      return [d.out, mean(d.x10, 1), mean(d.x11, 1)].map((t) => keep(t));
    }),
  );
  const [logits, x10, x11] = await Promise.all(outputs.map((t) => t.toArray()));
  outputs.forEach((t) => t.dispose());
  model.dispose();

  const { page } = demo;
  await page.setInputFiles('#checkpoint', checkpoint);
  await page.setInputFiles('#image', image);
  await page.waitForFunction(() => {
    const { demo: d } = window as unknown as { demo: { prediction: unknown; error: unknown } };
    return d.prediction !== null || d.error !== null;
  }, null, { timeout: 60_000 });
  const state = await demo.state();
  assert.is(state.error, null, 'the page reported an error');
  const shown = state.prediction!;
  assertClose(Object.values(shown.logits), logits, 'page logits vs Node', FLOAT32);
  assertClose(Object.values(shown.x10), x10, 'page x10 channel mean vs Node', FLOAT32);
  assertClose(Object.values(shown.x11), x11, 'page x11 channel mean vs Node', FLOAT32);
  const best = SYNTHETIC_CLASSES[logits.indexOf(Math.max(...logits))];
  assert.match((await page.textContent('#prediction')) ?? '', `Prediction: ${best} (`);
  assert.equal(demo.errors, []);
});

check('training panel: the losses of the same steps in Node, finite and changing', async () => {
  const options = { width: 2, size: SIZE, batch: 2, steps: 3, lr: 0.01 };
  const { page } = demo;
  for (const [name, value] of Object.entries(options)) await page.fill(`#train-form input[name=${name}]`, String(value));
  await page.click('#train-start');
  await page.waitForFunction(() => (window as unknown as { demo: { training: { done: boolean } } }).demo.training.done, null, {
    timeout: 60_000,
  });
  const state = await demo.state();
  assert.is(state.error, null, 'the page reported an error');
  const losses = state.training.records.map((r) => r.loss);
  assert.is(losses.length, options.steps);
  assert.ok(losses.every(Number.isFinite), `losses not finite: ${losses}`);
  assert.ok(Math.min(...losses.slice(1)) < losses[0], `loss never fell below the first step's: ${losses}`);

  const node: StepRecord[] = [];
  const model = await trainSynthetic(options, (record) => {
    node.push(record);
    return true;
  });
  model.dispose();
  assertClose(losses, node.map((r) => r.loss), 'page losses vs Node', FLOAT32);
  assert.match((await page.textContent('#model-info')) ?? '', `trained in this page (${options.steps} steps)`);
  assert.equal(demo.errors, []);
});

check('benchmark page: every case gives a positive time', async () => {
  const page = await demo.page.context().newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await page.goto(`${site.url}web/bench.html`);
    await page.fill('#reps', '1');
    await page.click('#run:not([disabled])');
    await page.waitForSelector('#run:not([disabled])', { timeout: 60_000 });
    assert.is(await page.getAttribute('#status', 'class'), null, `the page reported: ${await page.textContent('#status')}`);
    const rows = await page.$$eval('#results tbody tr', (trs) => trs.map((tr) => Array.from((tr as HTMLTableRowElement).cells, (td) => td.textContent ?? '')));
    assert.ok(rows.length >= 5, `only ${rows.length} rows`);
    for (const [name, , median] of rows) assert.ok(Number(median) > 0, `${name}: median ${median} ms`);
    assert.equal(errors, []);
  } finally {
    await page.close();
  }
});

check('without WebGPU the page says so and offers nothing to run', async () => {
  const bare = await openDemoPage(site, { webgpu: false });
  try {
    const { status } = await bare.state();
    assert.is(status, 'no-webgpu');
    assert.match((await bare.page.textContent('#status')) ?? '', 'WebGPU is not available in this browser');
    assert.is(await bare.page.getAttribute('#status', 'class'), 'error');
    assert.ok(await bare.page.isDisabled('#train-start'));
    assert.equal(bare.errors, []);
  } finally {
    await bare.close();
  }
});

browser.run();
