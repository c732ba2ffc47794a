// The demo page: WebGPU status, the predict panel (checkpoint + image → expression, crops, maps) and the
// training panel (a small PCNN on synthetic faces, live curves). What the page computes is also kept in
// `window.demo`, for the console and for the browser tests.
import { cropBoxes, init } from '../src/index.js';
import { syntheticFace } from '../src/fer/data/synthetic.js';
import { evalTransform } from '../src/fer/data/augment.js';
import { decodeFile, pixelsAt, toChannels } from './input.js';
import { modelFromCheckpoint, predict, type LoadedModel, type Prediction } from './model.js';
import { SYNTHETIC_CLASSES, trainSynthetic, type StepRecord } from './train.js';
import { drawCrops, drawImage, drawMap, outlineBoxes, plotCurves } from './draw.js';
import { showAdapter, showNoWebGPU } from './status.js';

const demo = {
  status: 'starting' as 'starting' | 'ready' | 'no-webgpu',
  error: null as string | null,
  prediction: null as (Prediction & { label: string }) | null,
  training: { records: [] as StepRecord[], done: false },
};
Object.assign(window, { demo });
export type Demo = typeof demo;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const SYNTHETIC_SEED = 2024;
const VIEW_PIXELS = 192;

let loaded: LoadedModel | null = null;
type Picture = { kind: 'file'; bitmap: ImageBitmap } | { kind: 'synthetic'; index: number };
let picture: Picture | null = null;

function fail(error: unknown): void {
  demo.error = error instanceof Error ? error.message : String(error);
  $('error').textContent = demo.error;
  console.error(error);
}

/** The picture as [C, H, W] in [0, 1] at the model's input size. */
function pictureAt(p: Picture, channels: number, [h, w]: readonly number[]): Float32Array {
  return p.kind === 'file' ? toChannels(pixelsAt(p.bitmap, h, w), channels) : syntheticFace(SYNTHETIC_SEED, p.index, h, channels);
}

async function showPrediction(): Promise<void> {
  if (!loaded || !picture) return;
  const { model, classNames } = loaded;
  const { inChannels, inputSize } = model.config;
  const shape = [inChannels, inputSize[0], inputSize[1]] as const;
  const image = pictureAt(picture, inChannels, inputSize);
  const result = await predict(model, evalTransform(image, shape));

  const scale = Math.max(1, Math.floor(VIEW_PIXELS / Math.max(...inputSize)));
  const boxes = Object.values(cropBoxes(inputSize[0], inputSize[1]));
  drawImage($('input-view'), image, shape, scale);
  drawCrops($('crops-view'), $('input-view'), boxes, scale);
  outlineBoxes($('input-view'), boxes, scale);
  const mapScale = Math.max(1, Math.floor(VIEW_PIXELS / Math.max(...result.mapSize)));
  drawMap($('x10-view'), result.x10, result.mapSize, mapScale);
  drawMap($('x11-view'), result.x11, result.mapSize, mapScale);

  const p = Array.from(result.probabilities);
  const best = p.indexOf(Math.max(...p));
  $('prediction').textContent = `Prediction: ${classNames[best]} (${(100 * p[best]).toFixed(1)}%)`;
  $('probabilities').replaceChildren(
    ...p.map((value, k) => {
      const row = document.createElement('tr');
      row.className = k === best ? 'best' : '';
      row.innerHTML = `<td></td><td><div class="bar" style="width:${(200 * value).toFixed(0)}px"></div></td><td>${(100 * value).toFixed(1)}%</td>`;
      row.cells[0].textContent = classNames[k];
      return row;
    }),
  );
  demo.prediction = { ...result, label: classNames[best] };
  $('error').textContent = '';
}

function useModel(next: LoadedModel): void {
  loaded?.model.dispose();
  loaded = next;
  const { width, inChannels, inputSize } = next.model.config;
  $('model-info').textContent =
    `Model: ${next.source}; width ${width}, ${inChannels === 1 ? 'gray' : 'RGB'} ${inputSize[0]}x${inputSize[1]} input, classes ${next.classNames.join(', ')}.`;
  $<HTMLButtonElement>('synthetic').disabled = inputSize[0] !== inputSize[1];
  showPrediction().catch(fail);
}

function setUpPredict(): void {
  $<HTMLInputElement>('checkpoint').addEventListener('change', async (event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      useModel(modelFromCheckpoint(new Uint8Array(await file.arrayBuffer()), file.name));
    } catch (error) {
      fail(error);
    }
  });
  $<HTMLInputElement>('image').addEventListener('change', async (event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      picture = { kind: 'file', bitmap: await decodeFile(file) };
      await showPrediction();
    } catch (error) {
      fail(error);
    }
  });
  let nextFace = 0;
  $('synthetic').addEventListener('click', () => {
    picture = { kind: 'synthetic', index: nextFace++ };
    showPrediction().catch(fail);
  });
}

function setUpTraining(): void {
  const form = $<HTMLFormElement>('train-form');
  const [start, stop] = [$<HTMLButtonElement>('train-start'), $<HTMLButtonElement>('train-stop')];
  let stopRequested = false;
  stop.addEventListener('click', () => (stopRequested = true));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = (name: string) => Number((form.elements.namedItem(name) as HTMLInputElement).value);
    const options = { width: value('width'), size: value('size'), batch: value('batch'), steps: value('steps'), lr: value('lr') };
    const records: StepRecord[] = (demo.training = { records: [], done: false }).records;
    [start.disabled, stop.disabled, stopRequested] = [true, false, false];
    const began = performance.now();
    try {
      const model = await trainSynthetic(options, (record) => {
        records.push(record);
        const accuracy = meanAccuracy(records, records.length - 1);
        plotCurves($('plot'), [
          { label: 'loss', values: records.map((r) => r.loss), color: '#d04a4a' },
          { label: 'accuracy (last 20 steps)', values: records.map((_, i) => meanAccuracy(records, i)), color: '#4a7bd0', range: [0, 1] },
        ]);
        const perSecond = (record.step * options.batch) / ((performance.now() - began) / 1000);
        $('train-status').textContent =
          `step ${record.step}/${options.steps}: loss ${record.loss.toFixed(4)}, accuracy ${(100 * accuracy).toFixed(0)}%, ${perSecond.toFixed(1)} images/s`;
        return !stopRequested;
      });
      useModel({ model, classNames: SYNTHETIC_CLASSES, source: `trained in this page (${records.length} steps)` });
    } catch (error) {
      fail(error);
    } finally {
      demo.training.done = true;
      [start.disabled, stop.disabled] = [false, true];
    }
  });
}

/** Accuracy of single small batches is noisy: the mean over the 20 steps up to `end`. */
function meanAccuracy(records: StepRecord[], end: number): number {
  const window = records.slice(Math.max(0, end - 19), end + 1);
  return window.reduce((sum, r) => sum + r.accuracy, 0) / window.length;
}

try {
  const { adapter } = await init();
  showAdapter($('status'), adapter);
  setUpPredict();
  setUpTraining();
  $<HTMLButtonElement>('train-start').disabled = false;
  demo.status = 'ready';
} catch (error) {
  demo.status = 'no-webgpu';
  showNoWebGPU($('status'), error);
}
