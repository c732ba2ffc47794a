// The demo page's shipped assets (web/assets/): sample faces, one per class, drawn by the built-in
// synthetic generator (stream 2025: neither the CLI's training and test streams, 1 and 2 at seed 0,
// nor the page's own), with samples.json naming their true labels; and, given --checkpoint, the demo
// model copied in as web/assets/demo-pcnn-w4.safetensors (model-only: best.safetensors of a run).
// Usage: node scripts/demo-assets.mjs [--checkpoint runs/demo/best.safetensors]
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { SYNTHETIC_CLASSES, syntheticFace, syntheticLabel } from '../src/fer/data/synthetic.js';

const root = process.env.PCNN_ROOT ?? process.cwd();
const assets = path.join(root, 'web', 'assets');
const SEED = 2025;
const SIZE = 48;

mkdirSync(path.join(assets, 'samples'), { recursive: true });
const samples: { file: string; label: string }[] = [];
for (let index = 0; samples.length < SYNTHETIC_CLASSES.length; index++) {
  const label = SYNTHETIC_CLASSES[syntheticLabel(SEED, index)];
  if (samples.some((s) => s.label === label)) continue;
  const face = syntheticFace(SEED, index, SIZE, 1);
  const png = new PNG({ width: SIZE, height: SIZE });
  face.forEach((v, p) => png.data.set([Math.round(255 * v), Math.round(255 * v), Math.round(255 * v), 255], 4 * p));
  const file = `samples/${label}.png`;
  writeFileSync(path.join(assets, file), PNG.sync.write(png));
  samples.push({ file, label });
}
// The page predicts the first on load: the clearest expressions first.
const ORDER = ['happy', 'surprise', 'sad', 'angry', 'neutral', 'fear', 'disgust'];
samples.sort((a, b) => ORDER.indexOf(a.label) - ORDER.indexOf(b.label));
writeFileSync(path.join(assets, 'samples.json'), JSON.stringify(samples, null, 2) + '\n');
console.log(`demo-assets: ${samples.length} sample faces in web/assets/samples/`);

const arg = process.argv.indexOf('--checkpoint');
if (arg > 0) {
  copyFileSync(process.argv[arg + 1], path.join(assets, 'demo-pcnn-w4.safetensors'));
  console.log(`demo-assets: ${process.argv[arg + 1]} -> web/assets/demo-pcnn-w4.safetensors`);
}
