// The demo page: WebGPU status; the predict panel (a shipped demo model and sample faces, so that a
// prediction is on screen at once; the user's checkpoint of any --model the page can run; the maps and
// each head's prediction); the camera panel; the training panel (a small PCNN on synthetic faces, a
// chart that cannot mislead, a download of the result). Errors are shown beside the control that caused
// them and cleared by its next success. What the page computes is kept in `window.demo`, for the
// console and for the browser tests.
import { cropBoxes, init } from '../src/index.js';
import { syntheticFace, syntheticLabel } from '../src/fer/data/synthetic.js';
import { decodeFile, pixelsAt, toChannels } from './input.js';
import { CROP_NAMES, checkpointBytes, framesOf, modelFromCheckpoint, modelInput, predict, type LoadedModel, type Prediction } from './model.js';
import { HELD_OUT_SEED, SYNTHETIC_CLASSES, trainSynthetic, type EvalRecord, type StepRecord } from './train.js';
import { CROP_COLORS, drawColorBar, drawCrops, drawFusionGraph, drawImage, drawOverlay, drawRegionGraph, plotTraining, smooth, type TrainingChart } from './draw.js';
import { Camera } from './camera.js';
import { showAdapter, showNoWebGPU } from './status.js';

type ErrorKey = 'checkpoint' | 'image' | 'train' | 'camera';

const demo = {
  status: 'starting' as 'starting' | 'ready' | 'no-webgpu',
  /** The first error on screen, if any (all of them in `errors`). */
  error: null as string | null,
  errors: { checkpoint: null, image: null, train: null, camera: null } as Record<ErrorKey, string | null>,
  /** The model in use. */
  model: null as { source: string; family: string; about: string } | null,
  prediction: null as (Prediction & { label: string; trueLabel: string | null; source: string; picture: string }) | null,
  /** Predictions shown by the predict panel so far. */
  predictions: 0,
  training: {
    records: [] as StepRecord[],
    heldOut: [] as EvalRecord[],
    done: false,
    outcome: null as 'done' | 'stopped' | 'diverged' | null,
    steps: 0,
  },
  camera: { running: false, frames: 0, fps: 0, latency: 0, label: null as string | null, box: null as { cx: number; cy: number; side: number } | null },
};
Object.assign(window, { demo });
export type Demo = typeof demo;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const VIEW_PIXELS = 192;
/** The demo model shipped with the page, and how it was made (web/assets/README.md). */
const DEMO_MODEL = {
  file: 'assets/demo-pcnn-w4.safetensors',
  made: 'node bin/pcnn.mjs train --width 4 --epochs 12',
};
/** Synthetic faces drawn by "New synthetic face": a stream neither the demo model nor the page's training saw. */
const SYNTHETIC_SEED = 2024;

let loaded: LoadedModel | null = null;
interface Picture {
  /** [C, H, W] in [0, 1] at the model's input size. */
  at(channels: number, size: readonly [number, number]): Float32Array;
  /** The expression the face was drawn with, where known. */
  trueLabel: string | null;
  name: string;
}
let picture: Picture | null = null;

function setError(key: ErrorKey, error: unknown): void {
  const message = error === null ? null : error instanceof Error ? error.message : String(error);
  demo.errors[key] = message;
  demo.error = Object.values(demo.errors).find((e) => e !== null) ?? null;
  $(`${key}-error`).textContent = message ?? '';
  if (message) console.warn(`${key}: ${message}`);
}

/** Disables a control and says why beside it (or enables it and clears the reason). */
function setEnabled(button: string, reasonLine: string, reason: string | null): void {
  $<HTMLButtonElement>(button).disabled = reason !== null;
  if (reasonLine) $(reasonLine).textContent = reason ?? '';
}

const percent = (p: number) => `${(100 * p).toFixed(1)}%`;
const argmax = (p: ArrayLike<number>) => Array.from(p).indexOf(Math.max(...Array.from(p)));

// ---- the predict panel ----

async function showPrediction(): Promise<void> {
  if (!loaded || !picture) return;
  const [current, shown] = [loaded, picture];
  const { classNames } = current;
  const { inChannels, inputSize } = current.model.config;
  const shape = [inChannels, inputSize[0], inputSize[1]] as const;
  const image = shown.at(inChannels, inputSize);
  const result = await predict(current, modelInput(current, image));
  if (current !== loaded || shown !== picture) return; // another model or face came in meanwhile: its prediction follows
  const p = Array.from(result.probabilities);
  if (!p.every(Number.isFinite)) {
    demo.prediction = null;
    $('prediction').textContent = '';
    $('probabilities').replaceChildren();
    throw new Error(`${current.source} computes NaN for this face, so it has no prediction: its weights are broken (a training that diverged?). Load another checkpoint.`);
  }
  const best = argmax(p);
  const scale = Math.max(1, Math.floor(VIEW_PIXELS / Math.max(...inputSize)));
  $('input-size').textContent = `${inputSize[1]}x${inputSize[0]} ${inChannels === 1 ? 'gray' : 'RGB'}`;
  if (current.family === 'pcnn') {
    const boxes = Object.values(cropBoxes(inputSize[0], inputSize[1]));
    drawImage($('input-view'), image, shape, scale, boxes);
    const clean = document.createElement('canvas');
    drawImage(clean, image, shape, scale);
    drawCrops($('crops-view'), clean, boxes, scale);
    const range = mapRange(result.x10!, result.x11!);
    drawOverlay($('x10-view'), image, shape, scale, result.x10!, result.mapSize!, range);
    drawOverlay($('x11-view'), image, shape, scale, result.x11!, result.mapSize!, range);
    drawColorBar($('colorbar'), range, inputSize[0] * scale, 'channel mean');
    showHeads(result, classNames, best);
  } else if (current.family === 'arpgnet') {
    drawImage($('input-view'), image, shape, scale);
    const graphs = result.graphs!;
    const region = graphs.region;
    $('region-view').closest('figure')!.classList.toggle('hidden', region === null);
    $('region-note').classList.toggle('hidden', region === null);
    if (region) drawRegionGraph($('region-view'), image, shape, scale, graphs.grid, region[region.length - 1]);
    drawFusionGraph($('fusion-view'), graphs.frames, graphs.sequences, graphs.fusion);
    const fused = argmax(result.probabilities);
    const last = result.heads[0].probabilities;
    const k = argmax(last);
    $('arpgnet-heads').textContent = `Fused over the ${current.model.config.frames} steps: ${classNames[fused]} (${percent(result.probabilities[fused])}); ` +
      `the last step alone: ${classNames[k]} (${percent(last[k])}).`;
  } else {
    drawImage($('input-view'), image, shape, scale);
    drawOverlay($('attention-view'), image, shape, scale, result.attention!, result.attentionSize!, [0, 1], 0.55);
    drawColorBar($('attention-colorbar'), [0, 1], inputSize[0] * scale, 'attention');
  }
  $('pcnn-explain').classList.toggle('hidden', current.family !== 'pcnn');
  $('crops-note').classList.toggle('hidden', current.family !== 'pcnn');
  $('feratt-explain').classList.toggle('hidden', current.family !== 'feratt');
  $('arpgnet-explain').classList.toggle('hidden', current.family !== 'arpgnet');

  $('prediction').textContent = `Prediction: ${classNames[best]} (${percent(p[best])})`;
  const truth = shown.trueLabel;
  const line = $('true-label');
  line.textContent = truth === null ? `True label: unknown (${shown.name})` : `True label: ${truth} (${shown.name}) ${truth === classNames[best] ? '✓ right' : '✗ wrong'}`;
  line.className = `true-label ${truth === null ? '' : truth === classNames[best] ? 'right' : 'wrong'}`;
  $('probabilities').replaceChildren(...p.map((value, k) => probabilityRow(classNames[k], value, k === best)));
  $('latency').textContent = `${result.milliseconds.toFixed(0)} ms for this prediction, on the GPU through WebGPU` +
    (demo.predictions === 0 ? ' (the first one also compiles the GPU kernels).' : '.');
  demo.prediction = { ...result, label: classNames[best], trueLabel: truth, source: current.source, picture: shown.name };
  demo.predictions++;
}

/** One range for x10 and x11, so that their colours compare. */
function mapRange(a: Float32Array, b: Float32Array): [number, number] {
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of [...a, ...b]) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return hi > lo ? [lo, hi] : [lo - 0.5, lo + 0.5];
}

function probabilityRow(name: string, value: number, best: boolean): HTMLTableRowElement {
  const row = document.createElement('tr');
  row.className = best ? 'best' : '';
  row.innerHTML = `<td></td><td class="bar-cell"><div class="bar" style="width:${(100 * value).toFixed(1)}%"></div></td><td class="num"></td>`;
  row.cells[0].textContent = name;
  row.cells[2].textContent = percent(value);
  return row;
}

/** The main head's prediction, each sense head's, and the sense heads' together, with the crops' colour key. */
function showHeads(result: Prediction, classNames: string[], best: number): void {
  const table = $('heads');
  const header = document.createElement('tr');
  header.innerHTML = '<th>head</th><th>looks at</th><th>predicts</th><th>confidence</th>';
  const row = (swatch: string | null, head: string, what: string, p: Float32Array) => {
    const k = argmax(p);
    const tr = document.createElement('tr');
    tr.innerHTML = `<td></td><td></td><td></td><td class="num"></td>`;
    if (swatch) {
      const s = document.createElement('span');
      s.className = 'swatch';
      s.style.background = swatch;
      tr.cells[0].append(s);
    }
    tr.cells[0].append(head);
    tr.cells[1].textContent = what;
    tr.cells[2].textContent = `${classNames[k]}${k === best ? '' : ' (differs)'}`;
    tr.cells[3].textContent = percent(p[k]);
    return tr;
  };
  table.replaceChildren(
    header,
    row(null, 'main head', 'whole face + registered crops (x11)', result.probabilities),
    ...result.heads.slice(0, 5).map((h, i) => row(CROP_COLORS[i], 'sense head', h.name, h.probabilities)),
    ...result.heads.slice(5).map((h) => row(null, 'sense heads', h.name, h.probabilities)),
  );
}

function describeModel(next: LoadedModel): string {
  const { width, inChannels, inputSize } = next.model.config;
  const kind = { pcnn: 'PCNN', feratt: 'FERAtt', arpgnet: 'ARPGNet (our reconstruction)' }[next.family];
  const input = next.family === 'arpgnet' ? `clips of ${framesOf(next)} frames` : 'input';
  const registration = 'registration' in next.model.config && next.model.config.registration === 'attention' ? ', registration by cross-attention (ours)' : '';
  return `${kind}${registration}, width ${width}, ${inChannels === 1 ? 'gray' : 'RGB'} ${inputSize[1]}x${inputSize[0]} ${input}, ` +
    `${next.classNames.length} classes (${next.classNames.join(', ')}): ${next.about}.`;
}

function useModel(next: LoadedModel): void {
  if (loaded !== next) loaded?.model.dispose();
  loaded = next;
  demo.model = { source: next.source, family: next.family, about: next.about };
  $('model-name').textContent = next.source;
  $('model-info').textContent = `Model in use: ${describeModel(next)}`;
  const [h, w] = next.model.config.inputSize;
  setEnabled('synthetic', 'synthetic-reason', h === w ? null : `(synthetic faces are square; this model's input is ${w}x${h})`);
  setEnabled('camera-start', 'camera-reason', 'getUserMedia' in (navigator.mediaDevices ?? {}) ? null : 'this browser gives pages no camera');
  showPrediction().then(() => setError('checkpoint', null), (error) => setError('checkpoint', error));
}

async function loadDemoModel(): Promise<void> {
  const response = await fetch(DEMO_MODEL.file);
  if (!response.ok) throw new Error(`The demo model ${DEMO_MODEL.file} could not be fetched (${response.status}); load a checkpoint of your own.`);
  const next = modelFromCheckpoint(new Uint8Array(await response.arrayBuffer()), 'demo model (ships with this page)');
  next.about = `the demo model, trained only on the 2,100 built-in synthetic (drawn) faces by \`${DEMO_MODEL.made}\`; ${next.about.replace(/^.*, /, '')} (525 held-out drawn faces). It has never seen a photograph`;
  useModel(next);
}

interface Sample {
  file: string;
  label: string;
}

async function setUpSamples(): Promise<void> {
  const response = await fetch('assets/samples.json');
  if (!response.ok) return;
  const samples = (await response.json()) as Sample[];
  const choose = async (sample: Sample, button: HTMLButtonElement) => {
    const bitmap = await decodeFile(await (await fetch(`assets/${sample.file}`)).blob());
    picture = bitmapPicture(bitmap, sample.label, `sample face`);
    document.querySelectorAll('#samples button').forEach((b) => b.classList.toggle('chosen', b === button));
    await showPrediction();
  };
  $('samples').replaceChildren(
    ...samples.map((sample) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'sample';
      button.title = `a drawn ${sample.label} face`;
      const img = document.createElement('img');
      [img.src, img.alt, img.width, img.height] = [`assets/${sample.file}`, `sample: ${sample.label}`, 40, 40];
      button.append(img);
      button.addEventListener('click', () => choose(sample, button).then(() => setError('image', null), (error) => setError('image', error)));
      return button;
    }),
  );
  if (!picture && samples.length) await choose(samples[0], $('samples').querySelector('button')!);
}

function bitmapPicture(bitmap: ImageBitmap, trueLabel: string | null, name: string): Picture {
  return { at: (channels, [h, w]) => toChannels(pixelsAt(bitmap, h, w), channels), trueLabel, name };
}

function setUpPredict(): void {
  const checkpoint = $<HTMLInputElement>('checkpoint');
  checkpoint.addEventListener('change', async () => {
    const file = checkpoint.files?.[0];
    if (!file) return;
    try {
      const next = modelFromCheckpoint(new Uint8Array(await file.arrayBuffer()), file.name);
      setError('checkpoint', null);
      useModel(next);
    } catch (error) {
      setError('checkpoint', error);
    } finally {
      // The field shows nothing of its own: the model in use is named beside it, and a refused file is not it.
      checkpoint.value = '';
    }
  });
  const image = $<HTMLInputElement>('image');
  image.addEventListener('change', async () => {
    const file = image.files?.[0];
    if (!file) return;
    try {
      let bitmap: ImageBitmap;
      try {
        bitmap = await decodeFile(file);
      } catch {
        throw new Error(`${file.name} is not an image this browser can decode (PNG, JPEG, WebP, GIF, BMP).`);
      }
      picture = bitmapPicture(bitmap, null, file.name);
      document.querySelectorAll('#samples button').forEach((b) => b.classList.remove('chosen'));
      await showPrediction();
      setError('image', null);
    } catch (error) {
      setError('image', error);
    } finally {
      image.value = '';
    }
  });
  let nextFace = 0;
  $('synthetic').addEventListener('click', () => {
    const index = nextFace++;
    const label = SYNTHETIC_CLASSES[syntheticLabel(SYNTHETIC_SEED, index)];
    picture = { at: (channels, [h]) => syntheticFace(SYNTHETIC_SEED, index, h, channels), trueLabel: label, name: `synthetic face ${index + 1}` };
    document.querySelectorAll('#samples button').forEach((b) => b.classList.remove('chosen'));
    showPrediction().then(() => setError('image', null), (error) => setError('image', error));
  });
}

// ---- the camera panel ----

function setUpCamera(): void {
  const camera = new Camera($<HTMLVideoElement>('camera-video'), $<HTMLCanvasElement>('camera-overlay'));
  demo.camera.box = camera.box;
  const [start, stop, size] = [$<HTMLButtonElement>('camera-start'), $<HTMLButtonElement>('camera-stop'), $<HTMLInputElement>('camera-size')];
  size.addEventListener('input', () => (camera.box.side = Number(size.value) / 100));
  camera.overlay.addEventListener('boxresize', () => (size.value = String(Math.round(100 * camera.box.side))));
  start.addEventListener('click', async () => {
    start.disabled = true;
    try {
      $('camera-view').classList.remove('hidden');
      await camera.start();
      setError('camera', null);
      stop.disabled = false;
      demo.camera.running = true;
      void cameraLoop(camera);
    } catch (error) {
      $('camera-view').classList.add('hidden');
      setError('camera', error);
      start.disabled = false;
    }
  });
  stop.addEventListener('click', () => {
    camera.stop();
    $('camera-view').classList.add('hidden');
    demo.camera.running = false;
    stop.disabled = true;
    start.disabled = loaded === null;
  });
}

async function cameraLoop(camera: Camera): Promise<void> {
  let last = performance.now();
  let label = '';
  // A model of clips sees the last T frames (the first ones repeated until there are T).
  let recent: Float32Array[] = [];
  let recentFor: LoadedModel | null = null;
  while (camera.active) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const current = loaded;
    if (!current || camera.video.readyState < 2) continue;
    const began = performance.now();
    try {
      const { inChannels, inputSize } = current.model.config;
      const image = camera.frame(inChannels, inputSize);
      if (recentFor !== current) [recent, recentFor] = [[], current];
      recent = [...recent, image].slice(-framesOf(current));
      const result = await predict(current, modelInput(current, ...recent));
      const p = result.probabilities;
      const best = argmax(p);
      label = Number.isFinite(p[best]) ? `${current.classNames[best]} ${percent(p[best])}` : 'NaN: broken model';
      const now = performance.now();
      const latency = now - began;
      const interval = now - last;
      last = now;
      const c = demo.camera;
      c.frames++;
      c.fps = c.frames === 1 ? 1000 / interval : 0.8 * c.fps + 0.2 * (1000 / interval);
      c.latency = c.frames === 1 ? latency : 0.8 * c.latency + 0.2 * latency;
      c.label = current.classNames[best];
      $('camera-prediction').textContent = label;
      $('camera-stats').textContent = `${c.fps.toFixed(1)} frames per second, ${c.latency.toFixed(0)} ms per frame (crop, upload, model, read back); ${c.frames} frames`;
      setError('camera', null);
    } catch (error) {
      setError('camera', error);
    }
    camera.drawBox(label);
  }
  camera.drawBox('');
}

// ---- the training panel ----

function setUpTraining(): void {
  const form = $<HTMLFormElement>('train-form');
  const [start, stop, download] = [$<HTMLButtonElement>('train-start'), $<HTMLButtonElement>('train-stop'), $<HTMLButtonElement>('train-download')];
  let stopRequested = false;
  let trained: { blob: Blob; name: string } | null = null;
  let chart: TrainingChart | null = null;
  stop.addEventListener('click', () => (stopRequested = true));
  // An empty chart at first, its x-range the steps the form asks for.
  const steps = () => Number((form.elements.namedItem('steps') as HTMLInputElement).value) || 1;
  const empty = (): TrainingChart => ({ steps: steps(), loss: [], trainAccuracy: [], heldOut: [] });
  (form.elements.namedItem('steps') as HTMLInputElement).addEventListener('input', () => !start.disabled && plotTraining($('plot'), (chart = empty())));
  chart = empty();
  new ResizeObserver(() => chart && plotTraining($('plot'), chart)).observe($('plot'));
  setEnabled('train-download', 'train-reason', 'train a model to download it');
  download.addEventListener('click', () => {
    if (!trained) return;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(trained.blob);
    a.download = trained.name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = (name: string) => Number((form.elements.namedItem(name) as HTMLInputElement).value);
    const options = { width: value('width'), size: value('size'), batch: value('batch'), steps: value('steps'), lr: value('lr') };
    const evaluateEvery = Math.max(10, Math.ceil(options.steps / 10));
    demo.training = { records: [], heldOut: [], done: false, outcome: null, steps: 0 };
    const { records, heldOut } = demo.training;
    const c: TrainingChart = (chart = { steps: options.steps, loss: [], trainAccuracy: [], heldOut });
    [start.disabled, stop.disabled, stopRequested] = [true, false, false];
    setError('train', null);
    const began = performance.now();
    const status = (final = false) => {
      const last = records.at(-1);
      if (!last) return;
      const seconds = (performance.now() - began) / 1000;
      const eta = ((options.steps - last.step) * seconds) / last.step;
      const held = heldOut.at(-1);
      $('train-status').textContent =
        `step ${last.step} of ${options.steps}: loss ${fmt(last.loss)} (smoothed ${fmt(smooth(c.loss).filter(Number.isFinite).at(-1) ?? NaN)}), ` +
        `train accuracy ${(100 * c.trainAccuracy.at(-1)!).toFixed(0)}%` +
        (held ? `, held-out accuracy ${(100 * held.accuracy).toFixed(0)}% (step ${held.step})` : '') +
        `; ${((last.step * options.batch) / seconds).toFixed(1)} images/s, ${time(seconds)}` + (final ? '' : ` so far, about ${time(eta)} left`);
    };
    try {
      const result = await trainSynthetic({ ...options, evaluateEvery }, (record) => {
        records.push(record);
        c.loss.push(record.loss);
        c.trainAccuracy.push(meanAccuracy(records, records.length - 1));
        plotTraining($('plot'), c);
        status();
        return !stopRequested;
      }, (record) => {
        heldOut.push(record);
        plotTraining($('plot'), c);
        status();
      });
      demo.training.outcome = result.outcome;
      demo.training.steps = result.steps;
      if (result.outcome === 'diverged') {
        c.stopped = { step: result.steps, reason: 'diverged' };
        status(true);
        throw new Error(`Training diverged at step ${result.steps} (the loss became ${result.lastLoss}): lower the learning rate (${options.lr} now; 0.01 works) and train again. The model in use is unchanged.`);
      }
      if (result.outcome === 'stopped') c.stopped = { step: result.steps, reason: 'stopped' };
      const held = heldOut.at(-1);
      const trainedOn = `trained in this page for ${result.steps} steps of ${options.batch} synthetic faces (width ${options.width}, ${options.size}x${options.size}, learning rate ${options.lr})` +
        (held ? `; held-out accuracy ${(100 * held.accuracy).toFixed(0)}% on ${56} drawn faces of stream ${HELD_OUT_SEED}` : '');
      const model = result.model!;
      const bytes = await checkpointBytes(model, { classNames: SYNTHETIC_CLASSES, trainedOn, steps: result.steps });
      trained = { blob: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }), name: `pcnn-w${options.width}-${options.size}px-${result.steps}steps.safetensors` };
      setEnabled('train-download', 'train-reason', null);
      useModel({ family: 'pcnn', model, classNames: SYNTHETIC_CLASSES, source: `trained in this page (${result.steps} steps)`, about: trainedOn });
      status(true);
      $('train-status').textContent += result.outcome === 'stopped' ? ` — stopped at step ${result.steps}; the model above is now this one.` : ' — done; the model above is now this one.';
    } catch (error) {
      setError('train', error);
    } finally {
      plotTraining($('plot'), c);
      demo.training.done = true;
      [start.disabled, stop.disabled] = [false, true];
    }
  });
}

function fmt(v: number): string {
  return Number.isFinite(v) ? (Math.abs(v) >= 1000 ? v.toExponential(2) : v.toFixed(3)) : String(v);
}

function time(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Accuracy of single small batches is noisy: the mean over the 20 steps up to `end`. */
function meanAccuracy(records: StepRecord[], end: number): number {
  const window = records.slice(Math.max(0, end - 19), end + 1);
  return window.reduce((sum, r) => sum + r.accuracy, 0) / window.length;
}

setEnabled('synthetic', 'synthetic-reason', '(needs a model: loading the demo model…)');
setEnabled('camera-start', 'camera-reason', 'needs a model: loading the demo model…');
try {
  const { adapter } = await init();
  showAdapter($('status'), adapter);
  setUpPredict();
  setUpCamera();
  setUpTraining();
  $<HTMLButtonElement>('train-start').disabled = false;
  demo.status = 'ready';
  await Promise.all([
    loadDemoModel().catch((error) => {
      $('model-name').textContent = 'none';
      setEnabled('synthetic', 'synthetic-reason', '(needs a model: load a checkpoint or train one below)');
      setEnabled('camera-start', 'camera-reason', 'needs a model: load a checkpoint or train one below');
      setError('checkpoint', error);
    }),
    setUpSamples().catch((error) => setError('image', error)),
  ]);
} catch (error) {
  demo.status = 'no-webgpu';
  showNoWebGPU($('status'), error);
  const reason = 'needs WebGPU, which this browser does not have';
  $('model-name').textContent = 'none (no WebGPU)';
  setEnabled('synthetic', 'synthetic-reason', `(${reason})`);
  setEnabled('camera-start', 'camera-reason', reason);
  setEnabled('train-start', 'train-reason', reason);
  for (const id of ['checkpoint', 'image']) $<HTMLInputElement>(id).disabled = true;
}
