// The browser: the shipped bundle (dist/pcnn-webgpu.js) running the demo page in headless Chromium on
// its WebGPU adapter, checked against this process (Node, Dawn) on the same checkpoint, image and
// training recipe, and one scaledDotProductAttention forward + backward run by the bundle in a page
// against the same call here; the page's states a user meets (first load, a bad checkpoint, a diverging training,
// the camera, a phone's width) each written as a screenshot to BROWSER_SCREENSHOTS (default
// runs/browser-screenshots/) for a person to look at. Skipped, with a line saying so, where Debian's
// chromium is not installed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { ARPGNet, FERAtt, PCNN, decodeSafetensors, encodeSafetensors, keep, manualSeed, mean, noGrad, tensor, tidy } from '../src/index.js';
import { checkCheckpointMeta, loadCheckpoint, saveCheckpoint } from '../src/fer/checkpoint.js';
import { prepareImage } from '../src/fer/data/image.js';
import { evalTransform } from '../src/fer/data/augment.js';
import { SYNTHETIC_CLASSES, syntheticFace, syntheticFaces } from '../src/fer/data/synthetic.js';
import { trainSynthetic, type StepRecord } from '../web/train.js';
import { assertClose, randomData } from './helpers/index.js';
import * as api from '../src/index.js';
import { CHROMIUM, fakeCamera, openDemoPage, serveSite, type DemoPage, type Site } from './browser/demo-page.js';
import type { Demo } from '../web/index.js';

const browser = suite('browser');
const SIZE = 48;
const ROOT = process.env.PCNN_ROOT ?? process.cwd();
const SHOTS = path.resolve(ROOT, process.env.BROWSER_SCREENSHOTS ?? 'runs/browser-screenshots');

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

/** A YUV4MPEG2 clip for Chromium's fake camera: synthetic faces, each enlarged 2x to 96x96, 4:2:0, neutral chroma. */
function faceY4m(file: string): void {
  const side = 2 * SIZE;
  const frames = [0, 1, 2].map((i) => syntheticFace(31, i, SIZE, 1));
  const parts: Buffer[] = [Buffer.from(`YUV4MPEG2 W${side} H${side} F10:1 Ip A1:1 C420jpeg\n`)];
  for (const face of frames) {
    const y = Buffer.alloc(side * side);
    for (let j = 0; j < side; j++) for (let i = 0; i < side; i++) y[j * side + i] = Math.round(255 * face[(j >> 1) * SIZE + (i >> 1)]);
    parts.push(Buffer.from('FRAME\n'), y, Buffer.alloc((side / 2) ** 2 * 2, 128));
  }
  writeFileSync(file, Buffer.concat(parts));
}

async function screenshot(page: DemoPage['page'], name: string, fullPage = true): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

/** The page's state once `predicate` holds of it. */
async function until(predicate: string, timeout = 60_000): Promise<Demo> {
  await demo.page.waitForFunction(`(() => { const d = window.demo; return ${predicate}; })()`, null, { timeout, polling: 100 });
  return demo.state();
}

/** Logits and channel means of x10 / x11 of `model` on the PNG `file`, in Node. */
async function nodePrediction(model: PCNN, file: string) {
  const x = evalTransform(prepareImage(readFileSync(file), file, 1, [SIZE, SIZE]), [1, SIZE, SIZE]);
  const outputs = noGrad(() =>
    tidy(() => {
      const d = model.forwardDetailed(tensor(x, [1, 1, SIZE, SIZE]));
      return [d.out, mean(d.x10, 1), mean(d.x11, 1)].map((t) => keep(t));
    }),
  );
  const [logits, x10, x11] = await Promise.all(outputs.map((t) => t.toArray()));
  outputs.forEach((t) => t.dispose());
  return { logits, x10, x11 };
}

/** A PCNN from a checkpoint file, as the CLI's eval and predict load one. */
async function loadPcnn(file: string): Promise<PCNN> {
  const { model: state, meta } = await loadCheckpoint<{ model?: string; config: ConstructorParameters<typeof PCNN>[0] }>(file);
  checkCheckpointMeta(meta, file);
  assert.is(meta!.model ?? 'pcnn', 'pcnn');
  const model = new PCNN(meta!.config);
  model.loadStateDict(state);
  model.eval();
  return model;
}

if (!existsSync(CHROMIUM)) {
  console.log(`browser: SKIPPED, no ${CHROMIUM} (Debian's chromium; \`bash scripts/setup.sh\` installs it)`);
}
const check = existsSync(CHROMIUM) ? browser : browser.skip;

browser.before(async () => {
  if (!existsSync(CHROMIUM)) return;
  scratch = mkdtempSync(path.join(tmpdir(), 'pcnn-browser-'));
  rmSync(SHOTS, { recursive: true, force: true });
  const y4m = path.join(scratch, 'faces.y4m');
  faceY4m(y4m);
  site = await serveSite();
  demo = await openDemoPage(site, { extraArgs: fakeCamera(y4m) });
  const { status } = await demo.state();
  if (status !== 'ready') throw new Error(`demo page: WebGPU not ready (${status}): ${await demo.page.textContent('#status')}`);
});

browser.after(async () => {
  await demo?.close();
  site?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  if (existsSync(SHOTS)) console.log(`browser: screenshots in ${path.relative(process.cwd(), SHOTS) || SHOTS}`);
});

check('first load: the shipped demo model predicts a sample face before any file is chosen, as Node does', async () => {
  const state = await until('d.prediction !== null && d.model !== null');
  assert.is(state.error, null, `the page reported: ${state.error}`);
  assert.match(state.model!.source, 'demo model');
  assert.match((await demo.page.textContent('#model-info')) ?? '', 'synthetic');
  assert.is(state.prediction!.trueLabel, 'happy', 'the first sample is the happy face');
  assert.match((await demo.page.textContent('#true-label')) ?? '', 'True label: happy');
  assert.match((await demo.page.textContent('#prediction')) ?? '', `Prediction: ${state.prediction!.label} (`);
  // The main head, the five sense heads and their sum.
  assert.is(await demo.page.locator('#heads tr').count(), 1 + 7);
  assert.not.ok(await demo.page.isDisabled('#synthetic'), 'the synthetic face button works once a model is there');
  const model = await loadPcnn(path.join(ROOT, 'web/assets/demo-pcnn-w4.safetensors'));
  const node = await nodePrediction(model, path.join(ROOT, 'web/assets/samples/happy.png'));
  model.dispose();
  assertClose(Object.values(state.prediction!.logits), node.logits, 'page logits vs Node (demo model, happy sample)', FLOAT32);
  await screenshot(demo.page, '1-first-load');
  assert.equal(demo.errors, []);
});

check('predict panel: a checkpoint and a PNG give the logits and maps Node computes', async () => {
  const model = tinyModel();
  const checkpoint = path.join(scratch, 'tiny.safetensors');
  await saveCheckpoint(checkpoint, { model, meta: { config: model.config, classNames: SYNTHETIC_CLASSES } });
  const image = path.join(scratch, 'face.png');
  facePng(image);
  const node = await nodePrediction(model, image);
  model.dispose();

  const { page } = demo;
  await page.setInputFiles('#checkpoint', checkpoint);
  await until(`d.model?.source === 'tiny.safetensors'`);
  await page.setInputFiles('#image', image);
  const state = await until(`(d.prediction?.picture === 'face.png' && d.prediction.source === 'tiny.safetensors') || d.error !== null`);
  assert.is(state.error, null, 'the page reported an error');
  const shown = state.prediction!;
  assertClose(Object.values(shown.logits), node.logits, 'page logits vs Node', FLOAT32);
  assertClose(Object.values(shown.x10!), node.x10, 'page x10 channel mean vs Node', FLOAT32);
  assertClose(Object.values(shown.x11!), node.x11, 'page x11 channel mean vs Node', FLOAT32);
  const best = SYNTHETIC_CLASSES[node.logits.indexOf(Math.max(...node.logits))];
  assert.match((await page.textContent('#prediction')) ?? '', `Prediction: ${best} (`);
  assert.match((await page.textContent('#true-label')) ?? '', 'unknown (face.png)');
  assert.is(await page.textContent('#model-name'), 'tiny.safetensors');
  assert.equal(demo.errors, []);
});

check('a bad checkpoint: plain words beside the control, the model in use kept and named, cleared by the next success', async () => {
  const { page } = demo;
  const png = path.join(scratch, 'S010_006_00000013.png');
  facePng(png);
  await page.setInputFiles('#checkpoint', png);
  let state = await until('d.errors.checkpoint !== null');
  assert.match(state.errors.checkpoint!, 'S010_006_00000013.png is a PNG image, not a checkpoint');
  assert.not.match(state.errors.checkpoint!, 'header length');
  assert.ok(await page.isVisible('#checkpoint-error'));
  assert.ok(await page.$eval('#checkpoint-error', (e) => e.closest('.control-row')!.contains(document.getElementById('checkpoint'))), 'the message sits beside the checkpoint control');
  assert.is(await page.textContent('#model-name'), 'tiny.safetensors', 'the model in use is still named');
  assert.is(state.model!.source, 'tiny.safetensors');
  assert.is(await page.$eval('#checkpoint', (e) => (e as HTMLInputElement).value), '', 'the field does not name the refused file');
  await screenshot(page, '2-bad-checkpoint');
  // A checkpoint of NaN weights (a diverged training's) is refused too: the page never predicts with one.
  const { tensors, metadata } = decodeSafetensors(readFileSync(path.join(scratch, 'tiny.safetensors')));
  const state0 = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, k === 'fc.bias' ? { shape: t.shape, data: new Float32Array(t.shape[0]).fill(NaN) } : { shape: t.shape, data: t.data as Float32Array, dtype: t.dtype }]));
  writeFileSync(path.join(scratch, 'nan.safetensors'), encodeSafetensors(state0, metadata));
  await page.setInputFiles('#checkpoint', path.join(scratch, 'nan.safetensors'));
  state = await until(`d.errors.checkpoint?.startsWith('nan.safetensors') ?? false`);
  assert.match(state.errors.checkpoint!, "nan.safetensors holds NaN weights (tensor 'fc.bias')");
  assert.is(await page.textContent('#model-name'), 'tiny.safetensors');
  await page.setInputFiles('#checkpoint', path.join(scratch, 'tiny.safetensors'));
  state = await until('d.errors.checkpoint === null');
  assert.is(await page.textContent('#checkpoint-error'), '');
  assert.equal(demo.errors, []);
});

check('other models: FERAtt with its attention map, ARPGNet on a static clip as Node computes it; an unknown model refused', async () => {
  const { page } = demo;
  manualSeed(1);
  const feratt = new FERAtt({ width: 4, inChannels: 3, inputSize: 64, numClasses: SYNTHETIC_CLASSES.length });
  feratt.eval();
  const file = path.join(scratch, 'feratt.safetensors');
  await saveCheckpoint(file, { model: feratt, meta: { model: 'feratt', config: feratt.config, classNames: SYNTHETIC_CLASSES } });
  feratt.dispose();
  await page.setInputFiles('#checkpoint', file);
  let state = await until(`(d.prediction?.source === 'feratt.safetensors') || d.errors.checkpoint !== null`);
  assert.is(state.errors.checkpoint, null, `the page reported: ${state.errors.checkpoint}`);
  const attention = Object.values(state.prediction!.attention!);
  assert.is(attention.length, 64 * 64);
  assert.ok(attention.every((v) => v >= 0 && v <= 1), 'the attention map is a sigmoid');
  assert.ok(Object.values(state.prediction!.probabilities).every(Number.isFinite));
  assert.ok(await page.isVisible('#feratt-explain'));
  assert.not.ok(await page.isVisible('#pcnn-explain'));
  assert.match((await page.textContent('#model-info')) ?? '', 'FERAtt, width 4, RGB 64x64');
  await screenshot(page, '3-feratt');

  // ARPGNet, a model of clips: the face repeated as a static clip, as \`pcnn predict\` runs a still image.
  manualSeed(2);
  const arpgnet = new ARPGNet({ inChannels: 1, width: 4, numClasses: SYNTHETIC_CLASSES.length, inputSize: [SIZE, SIZE] });
  arpgnet.eval();
  const clips = path.join(scratch, 'clips.safetensors');
  await saveCheckpoint(clips, { model: arpgnet, meta: { model: 'arpgnet', config: arpgnet.config, classNames: SYNTHETIC_CLASSES } });
  const T = arpgnet.config.frames;
  const frame = evalTransform(prepareImage(readFileSync(path.join(scratch, 'face.png')), 'face.png', 1, [SIZE, SIZE]), [1, SIZE, SIZE]);
  const clip = new Float32Array(T * frame.length);
  for (let t = 0; t < T; t++) clip.set(frame, t * frame.length);
  const out = noGrad(() => tidy(() => keep(arpgnet.forward(tensor(clip, [1, T, 1, SIZE, SIZE])).logits)));
  const logits = await out.toArray();
  out.dispose();
  // The graphs' undirected edges (each edge list holds both directions), as the page should draw them.
  const undirected = (edges: Int32Array) => {
    const e = edges.length / 2;
    return new Set(Array.from({ length: e }, (_, k) => `${Math.min(edges[k], edges[e + k])},${Math.max(edges[k], edges[e + k])}`)).size;
  };
  const [regionCount, fusionCount] = [undirected(arpgnet.regionEdges()), undirected(arpgnet.fusionEdges())];
  arpgnet.dispose();
  await page.setInputFiles('#checkpoint', clips);
  state = await until(`(d.prediction?.source === 'clips.safetensors') || d.errors.checkpoint !== null`);
  assert.is(state.errors.checkpoint, null, `the page reported: ${state.errors.checkpoint}`);
  assertClose(Object.values(state.prediction!.logits), logits, 'page ARPGNet logits (static clip) vs Node', FLOAT32);
  assert.ok(await page.isVisible('#arpgnet-explain'));
  assert.match((await page.textContent('#model-info')) ?? '', `clips of ${T} frames`);
  assert.match((await page.textContent('#arpgnet-heads')) ?? '', 'the last step alone');
  // Its graph attention drawn: an edge per pair of the region graph over the face (coloured lines on the
  // gray face) and of the fusion graph, each explained, the "not drawn yet" text gone.
  const graphs = state.prediction!.graphs!;
  assert.is(graphs.region!.length, T);
  assert.is(graphs.region![0].pairs.length, regionCount);
  assert.is(graphs.fusion.pairs.length, fusionCount);
  assert.is(await page.getAttribute('#region-view', 'data-edges'), String(regionCount));
  assert.is(await page.getAttribute('#fusion-view', 'data-edges'), String(fusionCount));
  const drawn = await page.evaluate(() => {
    const count = (id: string, test: (r: number, g: number, b: number) => boolean) => {
      const canvas = document.getElementById(id) as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let p = 0; p < data.length; p += 4) if (test(data[p], data[p + 1], data[p + 2])) n++;
      return n;
    };
    return { region: count('region-view', (r, g, b) => Math.abs(r - b) > 40), fusion: count('fusion-view', (r, g, b) => r + g + b < 700) };
  });
  assert.ok(drawn.region > 200, `the region graph's coloured pixels over the gray face: ${drawn.region}`);
  assert.ok(drawn.fusion > 200, `the fusion graph's pixels: ${drawn.fusion}`);
  assert.ok(await page.isVisible('#region-view') && await page.isVisible('#fusion-view'));
  const explained = (await page.textContent('#arpgnet-explain')) ?? '';
  assert.match(explained, 'Region graph:');
  assert.match(explained, 'Fusion graph:');
  assert.not.match(explained, 'not draw');
  await screenshot(page, '3-arpgnet');

  const other = path.join(scratch, 'other.safetensors');
  const meta = { model: 'resnet', config: { inChannels: 1, width: 4, numClasses: 7, inputSize: [48, 48] }, classNames: SYNTHETIC_CLASSES };
  writeFileSync(other, encodeSafetensors({ 'fc.bias': { shape: [7], data: new Float32Array(7) } }, { pcnn: JSON.stringify(meta) }));
  await page.setInputFiles('#checkpoint', other);
  state = await until('d.errors.checkpoint !== null');
  assert.match(state.errors.checkpoint!, "other.safetensors: unknown model 'resnet'");
  assert.is(await page.textContent('#model-name'), 'clips.safetensors');
  // Back to the tiny PCNN for the tests that follow.
  await page.setInputFiles('#checkpoint', path.join(scratch, 'tiny.safetensors'));
  await until(`d.prediction?.source === 'tiny.safetensors' && d.errors.checkpoint === null`);
  assert.equal(demo.errors, []);
});

check('training panel: the losses of the same steps in Node; held-out accuracy; the download loads in Node', async () => {
  const options = { width: 2, size: SIZE, batch: 2, steps: 3, lr: 0.01 };
  const { page } = demo;
  assert.ok(await page.isDisabled('#train-download'), 'nothing to download before training');
  assert.match((await page.textContent('#train-reason')) ?? '', 'train a model');
  for (const [name, value] of Object.entries(options)) await page.fill(`#train-form input[name=${name}]`, String(value));
  await page.click('#train-start');
  const state = await until('d.training.done && d.model?.source?.startsWith("trained")', 120_000);
  assert.is(state.error, null, 'the page reported an error');
  assert.is(state.training.outcome, 'done');
  const losses = state.training.records.map((r) => r.loss);
  assert.is(losses.length, options.steps);
  assert.ok(losses.every(Number.isFinite), `losses not finite: ${losses}`);
  assert.ok(Math.min(...losses.slice(1)) < losses[0], `loss never fell below the first step's: ${losses}`);
  assert.is(state.training.heldOut.length, 1, 'held-out accuracy after the last step');
  assert.match((await page.textContent('#train-status')) ?? '', 'held-out accuracy');

  const node: StepRecord[] = [];
  const trained = await trainSynthetic(options, (record) => {
    node.push(record);
    return true;
  });
  trained.model!.dispose();
  assertClose(losses, node.map((r) => r.loss), 'page losses vs Node', FLOAT32);
  assert.match((await page.textContent('#model-info')) ?? '', `trained in this page for ${options.steps} steps`);
  await screenshot(page, '4-trained');

  // The download, loaded as the CLI loads a checkpoint, predicts what the page shows for the same face.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#train-download')]);
  const file = path.join(scratch, download.suggestedFilename());
  await download.saveAs(file);
  assert.match(path.basename(file), /^pcnn-w2-48px-3steps\.safetensors$/);
  const model = await loadPcnn(file);
  const again = await nodePrediction(model, path.join(scratch, 'face.png'));
  model.dispose();
  await until(`d.prediction?.source?.startsWith('trained') && d.prediction.picture === 'face.png'`);
  assertClose(Object.values((await demo.state()).prediction!.logits), again.logits, 'downloaded checkpoint in Node vs the page', FLOAT32);
  assert.equal(demo.errors, []);
});

check('training that diverges stops, says to lower the learning rate, and leaves the model in use alone', async () => {
  const { page } = demo;
  const before = (await demo.state()).model!.source;
  const options = { width: 2, size: SIZE, batch: 2, steps: 40, lr: 1000 };
  for (const [name, value] of Object.entries(options)) await page.fill(`#train-form input[name=${name}]`, String(value));
  await page.click('#train-start');
  const state = await until('d.training.done', 120_000);
  assert.is(state.training.outcome, 'diverged');
  assert.ok(state.training.steps < options.steps, `stopped at step ${state.training.steps}`);
  assert.match(state.errors.train!, /diverged at step \d+ .*lower the learning rate/);
  assert.ok(await page.$eval('#train-error', (e) => e.closest('section')!.id === 'train'));
  assert.is(state.model!.source, before, 'the diverged model is not used');
  assert.ok(Object.values(state.prediction!.probabilities).every(Number.isFinite));
  assert.not.match((await page.textContent('#prediction')) ?? '', 'NaN');
  await screenshot(page, '5-diverged');
  // Back to a sane rate for the tests that follow (the error stays until the next training succeeds).
  await page.fill('#train-form input[name=lr]', '0.01');
  assert.equal(demo.errors, []);
});

check('a training stopped by the user: "stopped at step N", its model used and downloadable', async () => {
  const { page } = demo;
  const options = { width: 2, size: SIZE, batch: 2, steps: 500, lr: 0.01 };
  for (const [name, value] of Object.entries(options)) await page.fill(`#train-form input[name=${name}]`, String(value));
  await page.click('#train-start');
  await until('d.training.records.length >= 3', 60_000);
  await page.click('#train-stop');
  const state = await until('d.training.done', 60_000);
  assert.is(state.training.outcome, 'stopped');
  assert.ok(state.training.steps < options.steps);
  assert.is(state.errors.train, null, 'the diverged message is cleared by a training that worked');
  assert.match((await page.textContent('#train-status')) ?? '', `stopped at step ${state.training.steps}`);
  assert.is(state.training.heldOut.at(-1)!.step, state.training.steps, 'held-out accuracy where it stopped');
  await until(`d.model?.source === 'trained in this page (${state.training.steps} steps)'`);
  assert.not.ok(await page.isDisabled('#train-download'));
  await screenshot(page, '6-stopped');
  assert.equal(demo.errors, []);
});

check('camera: predictions arrive from a (fake) camera, with frames per second and latency', async () => {
  const { page } = demo;
  await page.$eval('#camera-size', (e) => {
    (e as HTMLInputElement).value = '100';
    e.dispatchEvent(new Event('input'));
  });
  await page.click('#camera-start');
  const state = await until('d.camera.frames >= 3 || d.errors.camera !== null', 60_000);
  assert.is(state.errors.camera, null, `camera: ${state.errors.camera}`);
  assert.ok(SYNTHETIC_CLASSES.includes(state.camera.label!), `label ${state.camera.label}`);
  assert.ok(state.camera.fps > 0 && state.camera.latency > 0);
  assert.match((await page.textContent('#camera-stats')) ?? '', 'frames per second');
  // The box follows a drag, and the predictions go on.
  await page.$eval('#camera-size', (e) => {
    (e as HTMLInputElement).value = '60';
    e.dispatchEvent(new Event('input'));
  });
  const overlay = (await page.locator('#camera-overlay').boundingBox())!;
  const [cx, cy] = [overlay.x + overlay.width / 2, overlay.y + overlay.height / 2];
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await page.mouse.move(cx - overlay.width / 5, cy - overlay.height / 10, { steps: 4 });
  await page.mouse.up();
  const moved = await until(`d.camera.frames >= ${state.camera.frames + 2}`, 60_000);
  assert.ok(Math.abs(moved.camera.box!.cx - 0.3) < 0.02 && Math.abs(moved.camera.box!.cy - 0.4) < 0.02, `box at ${JSON.stringify(moved.camera.box)}`);
  assert.is(moved.camera.box!.side, 0.6);
  await page.locator('#webcam').scrollIntoViewIfNeeded();
  await screenshot(page, '7-camera', false);
  await page.click('#camera-stop');
  assert.equal(demo.errors, []);
});

check("a phone's width: nothing wider than the window", async () => {
  const { page } = demo;
  for (const phone of [420, 360]) {
    await page.setViewportSize({ width: phone, height: 900 });
    await page.waitForTimeout(200);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= phone, `the page is ${width} px wide in a ${phone} px window`);
    await screenshot(page, `8-phone-${phone}px`);
  }
  await page.setViewportSize({ width: 1100, height: 900 });
});

check('benchmark page: every case gives a positive time, the running case is named, repetitions are odd', async () => {
  const page = await demo.page.context().newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await page.goto(`${site.url}web/bench.html`);
    await page.fill('#reps', '2');
    await page.click('#run:not([disabled])');
    await page.waitForSelector('#results tr.running', { timeout: 30_000 });
    assert.match((await page.textContent('#progress')) ?? '', /running \d+ of \d+/);
    await page.waitForSelector('#run:not([disabled])', { timeout: 90_000 });
    assert.is(await page.getAttribute('#status', 'class'), null, `the page reported: ${await page.textContent('#status')}`);
    assert.is(await page.inputValue('#reps'), '3', '2 repetitions become 3');
    const rows = await page.$$eval('#results tbody tr', (trs) => trs.map((tr) => Array.from((tr as HTMLTableRowElement).cells, (td) => td.textContent ?? '')));
    assert.ok(rows.length >= 5, `only ${rows.length} rows`);
    for (const [name, , median] of rows) assert.ok(Number(median) > 0, `${name}: median ${median} ms`);
    await page.screenshot({ path: path.join(SHOTS, '9-bench.png'), fullPage: true });
    assert.equal(errors, []);
  } finally {
    await page.close();
  }
});

/** One scaledDotProductAttention call and its backward, in whichever engine `api` is (the page's bundle
 *  or this process's src): GQA (4 query heads on 2 key heads), L != S, E != Ev, a bool mask broadcast
 *  over the batch with one row fully masked, and the gradients of q, k and v. */
const SDPA = { q: [2, 4, 5, 16], k: [2, 2, 7, 16], v: [2, 2, 7, 8], mask: [5, 7] };
function sdpaInputs() {
  const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const data = (shape: number[], seed: number) => Array.from(randomData(count(shape), seed));
  // Row 3 of the mask takes no key (the engine's zeros-with-zero-gradient policy), the others some.
  const mask = Array.from({ length: count(SDPA.mask) }, (_, i) => Math.floor(i / 7) !== 3 && (i * 5) % 3 !== 0);
  return { q: data(SDPA.q, 1), k: data(SDPA.k, 2), v: data(SDPA.v, 3), upstream: data([2, 4, 5, 8], 4), mask };
}
type SdpaInputs = ReturnType<typeof sdpaInputs>;
type SdpaResult = Record<'out' | 'dq' | 'dk' | 'dv', number[]>;
async function sdpaIn(api: typeof import('../src/index.js'), shapes: typeof SDPA, inputs: SdpaInputs): Promise<SdpaResult> {
  const leaf = (values: number[], shape: number[]) => api.tensor(Float32Array.from(values), shape, { requiresGrad: true });
  const [q, k, v] = [leaf(inputs.q, shapes.q), leaf(inputs.k, shapes.k), leaf(inputs.v, shapes.v)];
  const out = api.tidy(() => {
    const attnMask = api.tensor(inputs.mask, shapes.mask, { dtype: 'bool' });
    const y = api.scaledDotProductAttention(q, k, v, { attnMask, enableGqa: true });
    y.backward(api.tensor(Float32Array.from(inputs.upstream), y.shape));
    return y;
  });
  const read = async (t: { toArray(): Promise<Float32Array> }) => Array.from(await t.toArray());
  const result = { out: await read(out), dq: await read(q.grad!), dk: await read(k.grad!), dv: await read(v.grad!) };
  for (const t of [q, k, v]) {
    t.grad!.dispose();
    t.dispose();
  }
  out.dispose();
  return result;
}

check('scaledDotProductAttention forward + backward in the page (the bundle on its adapter) equals Node', async () => {
  const page = await demo.page.context().newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    // Any page of the site's origin can import the bundle; a missing path gives a plain 404 page.
    await page.goto(`${site.url}sdpa-check`);
    const inputs = sdpaInputs();
    const inPage = await page.evaluate(
      async ({ url, shapes, inputs, run }) => {
        const api = await import(url);
        await api.init();
        return new Function('api', 'shapes', 'inputs', `return (${run})(api, shapes, inputs)`)(api, shapes, inputs) as Promise<SdpaResult>;
      },
      { url: `${site.url}pcnn-webgpu.js`, shapes: SDPA, inputs, run: sdpaIn.toString() },
    );
    const inNode = await sdpaIn(api, SDPA, inputs);
    for (const name of ['out', 'dq', 'dk', 'dv'] as const) assertClose(inPage[name], inNode[name], `page ${name} vs Node`, FLOAT32);
    assert.ok(inNode.out.some((x) => Math.abs(x) > 0.05) && inNode.dk.some((x) => Math.abs(x) > 0.05), 'non-trivial values');
    const row3 = (head: number) => inNode.out.slice((head * 5 + 3) * 8, (head * 5 + 4) * 8);
    assert.ok(row3(0).every((x) => x === 0) && row3(5).every((x) => x === 0), 'the fully masked row gives zeros');
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
    assert.match((await bare.page.textContent('#train-reason')) ?? '', 'needs WebGPU');
    await screenshot(bare.page, '10-no-webgpu');
    assert.equal(bare.errors, []);
  } finally {
    await bare.close();
  }
});

browser.run();
