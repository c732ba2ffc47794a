// Faces composited onto backgrounds (src/fer/data/composite.ts, backgrounds.ts), CPU only: determinism in
// (seed, epoch, index), the clean target against an independent resampling, Lab against a float64
// reference, the illumination ratio, class balance, a background folder of PNGs, and the errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { Generator } from '../src/engine/random.js';
import { syntheticDataset, syntheticFace, syntheticMask } from '../src/fer/data/synthetic.js';
import {
  compositeDataset, composeFace, randomGeometry, rgbToLab, labToRgb, illuminationRatio, matchIllumination, ellipseMask,
  FACE_ELLIPSE, gaussianBlur, rangeNorm, jitterComposite, type Affine,
} from '../src/fer/data/composite.js';
import { BACKGROUND_FAMILIES, backgroundFolder, drawBackground, proceduralBackgrounds, type BackgroundSource } from '../src/fer/data/backgrounds.js';
import type { Sample } from '../src/fer/data/types.js';

const SIZE = 32;

function throwsWith(fn: () => unknown, ...parts: string[]): void {
  try {
    fn();
  } catch (error) {
    const message = (error as Error).message;
    for (const part of parts) assert.ok(message.includes(part), `'${message}' should mention '${part}'`);
    return;
  }
  assert.unreachable(`expected an error mentioning ${parts.join(', ')}`);
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** A background source of one fixed RGB image: what shows where the mask is 0 is known exactly. */
function fixedBackground(image: Float32Array): BackgroundSource {
  return { name: 'fixed', draw: () => ({ image: image.slice(), source: 'fixed' }) };
}

// ---------------------------------------------------------------- synthetic masks

test('syntheticDataset({ masks }): the same images as syntheticFace, each with its face-ellipse mask', () => {
  const plain = syntheticDataset({ count: 8, size: 40, seed: 4 });
  const masked = syntheticDataset({ count: 8, size: 40, seed: 4, masks: true });
  for (let i = 0; i < 8; i++) {
    const s = masked.get(i);
    assert.ok(same(s.image, syntheticFace(4, i, 40)), `image ${i} unchanged`);
    assert.ok(same(s.image, plain.get(i).image));
    assert.is(plain.get(i).mask, undefined);
    assert.is(masked.label(i), s.label);
    assert.ok(same(s.mask!, syntheticMask(4, i, 40)));
    assert.is(s.mask!.length, 40 * 40);
    assert.ok(s.mask!.every((v) => v >= 0 && v <= 1));
    assert.is(s.mask![0], 0, 'corner outside the face');
    assert.is(s.mask![20 * 40 + 20], 1, 'centre inside the face');
  }
});

// ---------------------------------------------------------------- determinism

const faces = syntheticDataset({ count: 21, size: SIZE, seed: 2, masks: true });

test('compositeDataset: sample (epoch, index) is a function of (seed, epoch, index) alone', () => {
  const options = { seed: 7, size: SIZE, count: 21 };
  const a = compositeDataset(faces, options);
  const b = compositeDataset(faces, options);
  const forward = Array.from({ length: 6 }, (_, i) => a.sample(1, i));
  const backward = [5, 4, 3, 2, 1, 0].map((i) => b.sample(1, i)).reverse();
  for (let i = 0; i < 6; i++) {
    for (const key of ['image', 'clean', 'mask'] as const) assert.ok(same(forward[i][key], backward[i][key]), `${key} of ${i} in any order`);
    assert.is(forward[i].label, backward[i].label);
    assert.is(forward[i].file, backward[i].file);
  }
  assert.ok(same(a.epoch(1).get(3).image, forward[3].image), 'epoch(e).get(i) is sample(e, i)');
  const batch = a.batch(1, [3, 0]);
  assert.ok(same(batch.x.subarray(0, 3 * SIZE * SIZE), forward[3].image));
  assert.ok(same(batch.clean.subarray(3 * SIZE * SIZE), forward[0].clean));
  assert.ok(same(batch.mask.subarray(0, SIZE * SIZE), forward[3].mask));
  assert.equal([...batch.y], [forward[3].label, forward[0].label]);
  assert.not.ok(same(a.sample(2, 3).image, forward[3].image), 'another epoch draws another composite');
  assert.not.ok(same(compositeDataset(faces, { ...options, seed: 8 }).sample(1, 3).image, forward[3].image), 'another seed too');
  assert.equal(a.shape, [3, SIZE, SIZE]);
  assert.is(forward[0].image.length, 3 * SIZE * SIZE);
  const gray = compositeDataset(faces, { ...options, channels: 1 }).sample(1, 3);
  assert.ok(same(gray.image, forward[3].image.subarray(0, SIZE * SIZE)), 'channels 1: the plane that 3 replicates');
});

test('compositeDataset: 3 channels are the gray composite replicated; jitter touches the composite only', () => {
  const plane = SIZE * SIZE;
  const s = compositeDataset(faces, { seed: 3, size: SIZE }).sample(0, 5);
  for (const key of ['image', 'clean'] as const) {
    assert.ok(same(s[key].subarray(0, plane), s[key].subarray(plane, 2 * plane)) && same(s[key].subarray(0, plane), s[key].subarray(2 * plane)), key);
  }
  const calm = compositeDataset(faces, { seed: 3, size: SIZE, jitter: false }).sample(0, 5);
  assert.ok(same(calm.clean, s.clean) && same(calm.mask, s.mask), 'target and mask do not depend on the jitter');
  const jittered = [0, 1, 2, 3, 4, 5, 6].filter((i) => {
    const on = compositeDataset(faces, { seed: 3, size: SIZE }).sample(0, i).image;
    return !same(on, compositeDataset(faces, { seed: 3, size: SIZE, jitter: false }).sample(0, i).image);
  });
  assert.ok(jittered.length >= 3, `jitter changes most composites (${jittered.length} of 7)`);
  assert.ok(s.image.every((v) => v >= 0 && v <= 1) && s.clean.every((v) => v >= 0 && v <= 1));
});

// ---------------------------------------------------------------- the clean target

/** Float64 bilinear sample of plane `src` (h x w) at (u, v) in pixel-centre-at-0.5 coordinates, 0 outside. */
function bilinear(src: ArrayLike<number>, h: number, w: number, u: number, v: number): number {
  const sx = u - 0.5;
  const sy = v - 0.5;
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const at = (x: number, y: number) => (x >= 0 && y >= 0 && x < w && y < h ? src[y * w + x] : 0);
  const tx = sx - x0;
  const ty = sy - y0;
  return (1 - ty) * ((1 - tx) * at(x0, y0) + tx * at(x0 + 1, y0)) + ty * ((1 - tx) * at(x0, y0 + 1) + tx * at(x0 + 1, y0 + 1));
}

test('clean target: zero exactly where the transformed mask is zero, the transformed face where it is one', () => {
  const backgroundImage = drawBackground('clutter', new Generator(11), SIZE);
  const backLuma = (p: number) => 0.299 * backgroundImage[p] + 0.587 * backgroundImage[SIZE * SIZE + p] + 0.114 * backgroundImage[2 * SIZE * SIZE + p];
  const ds = compositeDataset(faces, { seed: 5, size: SIZE, rangeNorm: false, illumination: false, jitter: false, backgrounds: fixedBackground(backgroundImage) });
  let [zeros, ones, edges] = [0, 0, 0];
  for (let i = 0; i < 14; i++) {
    const s = ds.sample(0, i);
    const face = faces.get(s.face);
    const t = s.transform as Affine;
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const p = y * SIZE + x;
        const [u, v] = [t[0] * (x + 0.5) + t[1] * (y + 0.5) + t[2], t[3] * (x + 0.5) + t[4] * (y + 0.5) + t[5]];
        const m = bilinear(face.mask!, SIZE, SIZE, u, v);
        assert.ok(Math.abs(s.mask[p] - m) < 1e-6, `mask at ${p}: ${s.mask[p]} vs reference ${m}`);
        if (s.mask[p] === 0) {
          zeros++;
          assert.is(s.clean[p], 0, `clean is exactly 0 where the mask is 0 (sample ${i}, pixel ${p})`);
          assert.ok(Math.abs(s.image[p] - backLuma(p)) < 1e-6, 'the composite shows the background there');
        } else if (s.mask[p] === 1) {
          ones++;
          const expected = bilinear(face.image, SIZE, SIZE, u, v);
          assert.ok(Math.abs(s.clean[p] - expected) < 1e-5, `clean at ${p}: ${s.clean[p]} vs face ${expected}`);
          assert.ok(Math.abs(s.image[p] - expected) < 1e-5, 'the composite shows the face there');
        } else {
          edges++;
          assert.ok(s.clean[p] <= bilinear(face.image, SIZE, SIZE, u, v) + 1e-6, 'edge pixels: the face times the mask');
        }
      }
    }
  }
  assert.ok(zeros > 1000 && ones > 1000 && edges > 50, `all three cases checked (${zeros}, ${ones}, ${edges})`);
});

test('clean target: the face before the illumination change, also with range norm, jitter and real-face ellipses', () => {
  // Gray 24x24 "real" faces without masks: the ellipse applies.
  const real: Sample[] = Array.from({ length: 4 }, (_, i) => ({ image: Float32Array.from({ length: 24 * 24 }, (_, p) => 0.3 + 0.5 * (((p * 7 + i) % 11) / 11)), label: i % 2, file: `real${i}` }));
  const ds = compositeDataset(real, { seed: 1, size: SIZE });
  const ellipse = ellipseMask(24, 24);
  for (let i = 0; i < 4; i++) {
    const s = ds.sample(3, i);
    const face = rangeNorm(real[s.face].image, 1, ellipse);
    const t = s.transform;
    for (let p = 0; p < SIZE * SIZE; p++) {
      const [x, y] = [(p % SIZE) + 0.5, Math.floor(p / SIZE) + 0.5];
      const [u, v] = [t[0] * x + t[1] * y + t[2], t[3] * x + t[4] * y + t[5]];
      const m = bilinear(ellipse, 24, 24, u, v);
      assert.ok(Math.abs(s.mask[p] - m) < 1e-6);
      if (m === 0) assert.is(s.clean[p], 0);
      else assert.ok(Math.abs(s.clean[p] - m * bilinear(face, 24, 24, u, v)) < 1e-5, `clean = mask x face at ${p}`);
    }
  }
});

// ---------------------------------------------------------------- Lab

/** Float64 reference of sRGB -> XYZ (D65) -> CIE Lab and back, the standard formulas with skimage's constants. */
const M = [[0.412453, 0.35758, 0.180423], [0.212671, 0.71516, 0.072169], [0.019334, 0.119193, 0.950227]];
const Wn = [0.95047, 1.0, 1.08883];
function solve3(m: number[][], rhs: number[]): number[] {
  // Gaussian elimination with partial pivoting (independent of the module's adjugate inverse).
  const a = m.map((row, i) => [...row, rhs[i]]);
  for (let c = 0; c < 3; c++) {
    const pivot = [c, c + 1, c + 2].filter((r) => r < 3).reduce((best, r) => (Math.abs(a[r][c]) > Math.abs(a[best][c]) ? r : best), c);
    [a[c], a[pivot]] = [a[pivot], a[c]];
    for (let r = 0; r < 3; r++) {
      if (r === c) continue;
      const f = a[r][c] / a[c][c];
      for (let k = c; k < 4; k++) a[r][k] -= f * a[c][k];
    }
  }
  return [0, 1, 2].map((i) => a[i][3] / a[i][i]);
}
function referenceLab(rgb: number[]): number[] {
  const lin = rgb.map((c) => (c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4)));
  const xyz = M.map((row, i) => (row[0] * lin[0] + row[1] * lin[1] + row[2] * lin[2]) / Wn[i]);
  const f = xyz.map((t) => (t > 0.008856 ? Math.pow(t, 1 / 3) : 7.787 * t + 16 / 116));
  return [116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])];
}
function referenceRgb(lab: number[]): number[] {
  const fy = (lab[0] + 16) / 116;
  const f = [lab[1] / 500 + fy, fy, Math.max(0, fy - lab[2] / 200)];
  const xyz = f.map((t, i) => (t > 0.2068966 ? t ** 3 : (t - 16 / 116) / 7.787) * Wn[i]);
  return solve3(M, xyz).map((c) => Math.min(1, Math.max(0, c <= 0.0031308 ? 12.92 * c : 1.055 * Math.pow(c, 1 / 2.4) - 0.055)));
}

test('Lab: rgbToLab and labToRgb against a float64 reference (sRGB, D65), and the rgb -> lab -> rgb round trip', () => {
  const g = new Generator(42);
  const colors: number[][] = [[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.04045, 0.5, 0.02], [0.5, 0.5, 0.5], [0.001, 0.002, 0.003]];
  for (let i = 0; i < 2000; i++) colors.push([g.random(), g.random(), g.random()]);
  for (const rgb of colors) {
    const lab = rgbToLab(rgb[0], rgb[1], rgb[2]);
    const ref = referenceLab(rgb);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(lab[c] - ref[c]) <= 1e-6, `lab[${c}] of [${rgb}]: ${lab[c]} vs ${ref[c]}`);
    const back = labToRgb(lab[0], lab[1], lab[2]);
    const refBack = referenceRgb(ref);
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(back[c] - refBack[c]) <= 1e-6, `labToRgb[${c}] of [${[...lab]}]: ${back[c]} vs ${refBack[c]}`);
      assert.ok(Math.abs(back[c] - rgb[c]) <= 1e-6, `round trip [${rgb}] -> [${[...back]}]`);
    }
  }
  assert.ok(Math.abs(rgbToLab(1, 1, 1)[0] - 100) < 1e-9, 'white has L 100');
  assert.is(rgbToLab(0, 0, 0)[0], 0);
  // Out-of-gamut Lab clips to [0, 1] as skimage's lab2rgb does.
  const vivid = labToRgb(50, 120, -120);
  assert.ok([...vivid].every((v) => v >= 0 && v <= 1));
});

// ---------------------------------------------------------------- illumination

test('illumination: ratio background / face clipped to [0.5, 1.5]; L scaled, clipped to [10, 90], a and b kept', () => {
  assert.is(illuminationRatio(50, 60), 60 / (50 + Number.EPSILON));
  assert.is(illuminationRatio(50, 100), 1.5);
  assert.is(illuminationRatio(50, 10), 0.5);
  assert.is(illuminationRatio(0, 0), 0.5, '0 / eps = 0, clipped up');
  assert.is(illuminationRatio(40, 100, [0.8, 2]), 2);
  throwsWith(() => illuminationRatio(1, 1, [1.5, 0.5]), 'illuminationRatio', 'range', '1.5,0.5', '0 < low <= high');

  const plane = 4;
  const rgb = (values: number[][]) => Float32Array.from([0, 1, 2].flatMap((c) => values.map((v) => v[c])));
  const face = rgb([[0.3, 0.25, 0.2], [0.4, 0.4, 0.4], [0.35, 0.3, 0.3], [0.9, 0.1, 0.1]]);
  const mask = Float32Array.of(1, 1, 0.5, 0);
  const lightOf = (img: Float32Array, p: number) => rgbToLab(img[p], img[plane + p], img[2 * plane + p])[0];
  for (const [backValue, expectedRatio] of [[0.95, 1.5], [0.02, 0.5], [null, null]] as const) {
    const background = backValue === null ? face.slice() : new Float32Array(3 * plane).fill(backValue);
    const out = matchIllumination(face, mask, background);
    const weights = [1, 1, 0.5];
    const meanFace = weights.reduce((s, w, p) => s + w * lightOf(face, p), 0) / 2.5;
    const meanBack = weights.reduce((s, w, p) => s + w * lightOf(background, p), 0) / 2.5;
    assert.ok(Math.abs(out.faceLightness - meanFace) < 1e-9 && Math.abs(out.backgroundLightness - meanBack) < 1e-9, 'mask-weighted means');
    const ratio = expectedRatio ?? meanBack / meanFace;
    assert.ok(Math.abs(out.ratio - ratio) < 1e-12, `ratio ${out.ratio} vs ${ratio}`);
    for (let p = 0; p < 3; p++) {
      const before = rgbToLab(face[p], face[plane + p], face[2 * plane + p]);
      const expected = labToRgb(Math.min(90, Math.max(10, before[0] * ratio)), before[1], before[2]);
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(out.image[c * plane + p] - expected[c]) < 1e-6, `pixel ${p} channel ${c}`);
    }
    for (let c = 0; c < 3; c++) assert.is(out.image[c * plane + 3], face[c * plane + 3], 'outside the mask: unchanged');
  }
  // A face of L 65 on white (L 100): the ratio 100 / 65 is clipped to 1.5, and L 97.5 to 90.
  const bright = new Float32Array(3).fill(labToRgb(65, 0, 0)[0]);
  const lit = matchIllumination(bright, Float32Array.of(1), new Float32Array(3).fill(1));
  assert.is(lit.ratio, 1.5);
  assert.ok(Math.abs(rgbToLab(lit.image[0], lit.image[1], lit.image[2])[0] - 90) < 1e-4, 'L clipped to 90');
  assert.is(matchIllumination(face, new Float32Array(plane), face).ratio, 1, 'no mask pixel: ratio 1');
  throwsWith(() => matchIllumination(face, Float32Array.of(1, 1), face), 'matchIllumination', 'RGB [3, H, W]');
});

test('compositeDataset: the illumination ratio of every sample lies in ratioRange', () => {
  const ds = compositeDataset(faces, { seed: 9, size: SIZE, ratioRange: [0.8, 1.1] });
  const ratios = Array.from({ length: 14 }, (_, i) => ds.sample(0, i).ratio);
  assert.ok(ratios.every((r) => r >= 0.8 && r <= 1.1), `[${ratios}]`);
  assert.ok(ratios.some((r) => r === 0.8 || r === 1.1), 'some are clipped');
  assert.ok(compositeDataset(faces, { seed: 9, size: SIZE, illumination: false }).sample(0, 0).ratio === 1);
});

// ---------------------------------------------------------------- class balance

test('balanced sampling: each epoch holds every class count / K times, whatever the class sizes', () => {
  const sizes = [1, 5, 20];
  const labels = sizes.flatMap((n, k) => Array(n).fill(k));
  const real: Sample[] = labels.map((label, i) => ({ image: new Float32Array(16 * 16).fill(0.2 + label * 0.3), label, file: `f${i}` }));
  const ds = compositeDataset(real, { count: 30, size: 16, classNames: ['a', 'b', 'c'] });
  assert.equal(ds.classCounts, sizes);
  assert.equal(ds.classNames, ['a', 'b', 'c']);
  for (const epoch of [0, 1, 5]) {
    const counts = [0, 0, 0];
    const used = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const s = ds.sample(epoch, i);
      counts[s.label]++;
      assert.is(real[s.face].label, s.label, 'the face is of the sample class');
      used.add(s.face);
    }
    assert.equal(counts, [10, 10, 10], `epoch ${epoch}`);
    assert.ok(used.size > 10, 'faces of a class are drawn at random, not in turn');
  }
  const sequential = compositeDataset(real, { count: 30, size: 16, sampling: 'sequential' });
  assert.equal(Array.from({ length: 30 }, (_, i) => sequential.sample(0, i).face), Array.from({ length: 30 }, (_, i) => i % 26));
  throwsWith(() => compositeDataset(real, { size: 16, classNames: ['a', 'b', 'c', 'd'] }), 'compositeDataset', "class 3 'd' has none", "sampling: 'sequential'");
  assert.is(compositeDataset(real, { size: 16, classNames: ['a', 'b', 'c', 'd'], sampling: 'sequential' }).length, 26);
  // Labels from faces.label(i), without drawing the faces.
  const synthetic = compositeDataset(faces, { size: SIZE, count: 14 });
  const counts = Array(7).fill(0);
  for (let i = 0; i < 14; i++) counts[synthetic.sample(0, i).label]++;
  assert.equal(counts, Array(7).fill(2));
});

// ---------------------------------------------------------------- backgrounds

test('procedural backgrounds: every family is RGB in [0, 1], seeded, and not flat', () => {
  for (const family of BACKGROUND_FAMILIES) {
    for (let seed = 0; seed < 3; seed++) {
      const a = drawBackground(family, new Generator(seed), 24);
      assert.is(a.length, 3 * 24 * 24);
      assert.ok(a.every((v) => v >= 0 && v <= 1), `${family} in [0, 1]`);
      assert.ok(same(a, drawBackground(family, new Generator(seed), 24)), `${family} deterministic`);
      const mean = a.reduce((s, v) => s + v, 0) / a.length;
      assert.ok(a.some((v) => Math.abs(v - mean) > 0.01), `${family} varies`);
    }
  }
  const source = proceduralBackgrounds(['noise', 'pattern']);
  const drawn = new Set(Array.from({ length: 20 }, (_, i) => source.draw(new Generator(i), 8).source));
  assert.equal([...drawn].sort(), ['procedural:noise', 'procedural:pattern']);
  throwsWith(() => proceduralBackgrounds(['sky' as never]), 'proceduralBackgrounds', "'sky'", 'gradient, fractal, clutter, pattern, noise');
  throwsWith(() => drawBackground('gradient', new Generator(0), 0), 'drawBackground', 'size', '0');
});

function writePng(file: string, width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): void {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      png.data.set([r, g, b, 255], 4 * (y * width + x));
    }
  }
  writeFileSync(file, PNG.sync.write(png));
}

test('backgroundFolder: loads the PNGs of a folder (sub-folders too), crops them at random, lists what fails', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'composite-backgrounds-'));
  mkdirSync(path.join(root, 'more'));
  writePng(path.join(root, 'red.png'), 40, 30, () => [255, 0, 0]);
  writePng(path.join(root, 'more', 'ramp.png'), 64, 48, (x) => [x * 4, 128, 255 - x * 4]);
  writeFileSync(path.join(root, 'broken.png'), 'not a png');
  writeFileSync(path.join(root, 'notes.txt'), 'ignored');
  const folder = backgroundFolder(root, { cropFraction: 0.5 });
  assert.equal(folder.files, [path.join(root, 'more', 'ramp.png'), path.join(root, 'red.png')]);
  assert.equal(folder.skipped.map((s) => s.file), [path.join(root, 'broken.png')]);
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const { image, source } = folder.draw(new Generator(i), 16);
    assert.is(image.length, 3 * 16 * 16);
    assert.ok(same(image, folder.draw(new Generator(i), 16).image), 'a function of the generator');
    const file = source.split('@')[0];
    seen.add(path.basename(file));
    if (file.endsWith('red.png')) {
      assert.ok(image.subarray(0, 256).every((v) => v === 1) && image.subarray(256).every((v) => v === 0), 'red stays red');
    } else {
      // A crop of half the shorter side (24 of 48 rows) of the ramp: red rises across it, green is 128.
      assert.ok(image.subarray(256, 512).every((v) => Math.abs(v - 128 / 255) < 1e-6));
      assert.ok(image[15] > image[0], 'the ramp rises left to right');
      assert.ok(image[15] - image[0] < (24 * 4) / 255 + 1e-6, 'over at most the crop width');
    }
  }
  assert.equal([...seen].sort(), ['ramp.png', 'red.png']);
  // As the backgrounds of a composite.
  const ds = compositeDataset(faces, { size: SIZE, count: 7, backgrounds: [folder] });
  assert.match(ds.sample(0, 0).file, /\|.*(red|ramp)\.png@/);
  const empty = mkdtempSync(path.join(tmpdir(), 'composite-empty-'));
  throwsWith(() => backgroundFolder(empty), 'backgroundFolder', empty, 'no PNG or JPEG image');
  throwsWith(() => backgroundFolder(path.join(empty, 'missing')), 'backgroundFolder', 'cannot read', 'missing');
  throwsWith(() => backgroundFolder(root, { cropFraction: 2 }), 'backgroundFolder', 'cropFraction', '(0, 1]', '2');
  const bad = mkdtempSync(path.join(tmpdir(), 'composite-bad-'));
  writeFileSync(path.join(bad, 'x.png'), 'nope');
  throwsWith(() => backgroundFolder(bad), 'backgroundFolder', 'none of the 1 images', 'x.png');
});

// ---------------------------------------------------------------- pieces

test('gaussianBlur: OpenCV kernels 3, 5, 7 with reflect-101 borders', () => {
  const n = 9;
  const impulse = new Float32Array(n * n);
  impulse[4 * n + 4] = 1;
  const k5 = [0.0625, 0.25, 0.375, 0.25, 0.0625];
  const out = gaussianBlur(impulse, n, n, 5);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    const expected = Math.abs(y - 4) <= 2 && Math.abs(x - 4) <= 2 ? k5[y - 2] * k5[x - 2] : 0;
    assert.ok(Math.abs(out[y * n + x] - expected) < 1e-7);
  }
  const corner = new Float32Array(n * n);
  corner[0] = 1;
  // Reflect-101 at the corner: tap -1 reads index 1 (not 0), so pixel (0, 0) gets 0.5 x 0.5, (1, 0) 0.25 x 0.5,
  // and (1, 1) 0.25 x 0.25 (replicate borders would give 0.5625, 0.1875, 0.0625).
  const blurred = gaussianBlur(corner, n, n, 3);
  assert.ok(Math.abs(blurred[0] - 0.25) < 1e-7 && Math.abs(blurred[1] - 0.125) < 1e-7 && Math.abs(blurred[n + 1] - 0.0625) < 1e-7, `[${blurred.subarray(0, 2)}]`);
  const flat = gaussianBlur(new Float32Array(n * n).fill(0.4), n, n, 7);
  assert.ok(flat.every((v) => Math.abs(v - 0.4) < 1e-6));
  throwsWith(() => gaussianBlur(flat, n, n, 4 as never), 'gaussianBlur', 'ksize', '3, 5 or 7', '4');
});

test('rangeNorm and the jitter: ferrender\'s (x - min) / max over the mask; brightness clipped to the image max', () => {
  const image = Float32Array.of(0.2, 0.4, 0.6, 0.9);
  assert.ok(rangeNorm(image, 1).every((v, i) => Math.abs(v - (image[i] - 0.2) / 0.9) < 1e-7));
  const masked = rangeNorm(image, 1, Float32Array.of(0, 1, 1, 0));
  assert.ok(Math.abs(masked[1] - 0) < 1e-7 && Math.abs(masked[2] - 0.2 / 0.6) < 1e-7 && masked[0] === 0 && Math.abs(masked[3] - 0.5 / 0.6) < 1e-6);
  const plane = Float32Array.from({ length: 64 }, (_, i) => i / 64);
  for (let seed = 0; seed < 20; seed++) {
    const out = jitterComposite(plane, 8, 8, new Generator(seed), { contrast: 0, gamma: 0, blurP: 0 });
    assert.ok(out.every((v) => v >= 0 && v <= 63 / 64 + 1e-7), 'never above the image max');
  }
  assert.ok(same(jitterComposite(plane, 8, 8, new Generator(1), { p: 0, blurP: 0 }), plane), 'probability 0: unchanged');
});

test('composeFace: a known geometry (identity, no margin) leaves face and mask in place', () => {
  const size = 16;
  const face = Float32Array.from({ length: size * size }, (_, i) => (i % 13) / 13);
  const mask = ellipseMask(size, size, { cx: 0.5, cy: 0.5, rx: 0.3, ry: 0.4 });
  const g = new Generator(0);
  const identity = randomGeometry(g, { scale: 0, flip: false, degrees: 0, translation: 0, warp: 0 });
  assert.ok(identity.every((v, i) => Math.abs(v - [1, 0, 0, 0, 1, 0][i]) < 1e-12));
  const parts = composeFace(face, [1, size, size], mask, new Float32Array(3 * size * size), identity, g, { size, channels: 1, padding: 0, rangeNorm: false, illumination: false, jitter: false });
  assert.ok(parts.mask.every((v, i) => Math.abs(v - mask[i]) < 1e-6));
  assert.ok(parts.clean.every((v, i) => Math.abs(v - mask[i] * face[i]) < 1e-6));
  assert.ok(parts.image.every((v, i) => Math.abs(v - mask[i] * face[i]) < 1e-6), 'on a black background the composite is the clean face');
  assert.equal(FACE_ELLIPSE, { cx: 0.5, cy: 0.5, rx: 0.42, ry: 0.5 });
});

// ---------------------------------------------------------------- errors

test('compositeDataset: bad options are refused naming the function, the value and what was expected', () => {
  const cases: [Record<string, unknown>, ...string[]][] = [
    [{ size: 4 }, 'size', '4', 'an integer >= 8'],
    [{ channels: 2 }, 'channels', '2', '1 or 3'],
    [{ count: 0 }, 'count', '0', 'a positive integer'],
    [{ seed: 1.5 }, 'seed', '1.5', 'an integer'],
    [{ sampling: 'random' }, 'sampling', "'random'", "'balanced' or 'sequential'"],
    [{ scale: 1.2 }, 'scale', '1.2', '[0, 1)'],
    [{ degrees: -5 }, 'degrees', '-5', '[0, 180]'],
    [{ translation: 2 }, 'translation', '2', '[0, 1]'],
    [{ warp: 0.5 }, 'warp', '0.5', '[0, 0.3]'],
    [{ padding: 0.5 }, 'padding', '0.5', '[0, 0.5)'],
    [{ ratioRange: [1.5, 0.5] }, 'ratioRange', '[1.5,0.5]', '0 < low <= high'],
    [{ mask: 'blob' }, 'mask', "'blob'", "'auto', 'ellipse'"],
    [{ mask: { cx: 0.5, cy: 0.5, rx: 0, ry: 0.4 } }, 'mask', '"rx":0', 'rx, ry > 0'],
    [{ jitter: { p: 2 } }, 'jitter.p', '2', 'a probability in [0, 1]'],
    [{ jitter: { gamma: 1 } }, 'jitter.gamma', '1', '[0, 1)'],
    [{ jitter: { hue: 0.1 } }, "jitter option 'hue'", 'unknown option'],
    [{ angle: 30 }, "option 'angle'", '30', 'unknown option', 'degrees'],
    [{ faceShape: [2, 8, 8] }, 'faceShape', '[2,8,8]', '[C, H, W] with C 1 or 3'],
    [{ illumination: 'yes' }, 'illumination', "'yes'", 'true or false'],
    [{ backgrounds: {} }, 'backgrounds', 'background source'],
    [{ labels: [0, 1] }, 'labels', '2 labels', 'one per face (21)'],
    [{ classNames: ['only'] }, 'classNames', 'at least 7 names'],
  ];
  for (const [options, ...parts] of cases) throwsWith(() => compositeDataset(faces, { size: SIZE, ...options } as never), 'compositeDataset: ', ...parts);
  throwsWith(() => compositeDataset([]), 'compositeDataset', 'faces', 'a non-empty Dataset');
  throwsWith(() => compositeDataset({} as never), 'compositeDataset', 'faces', 'a Dataset');
  const ds = compositeDataset(faces, { size: SIZE, count: 7 });
  throwsWith(() => ds.sample(0, 7), 'compositeDataset', 'index', '7', 'an integer in 0..6');
  throwsWith(() => ds.sample(-1, 0), 'compositeDataset', 'epoch', '-1', 'a non-negative integer');
  throwsWith(() => ds.epoch(0.5), 'compositeDataset', 'epoch', '0.5');
  const oblong: Sample[] = [{ image: new Float32Array(6 * 10), label: 0, file: 'wide.png' }];
  throwsWith(() => compositeDataset(oblong, { size: SIZE }).sample(0, 0), 'compositeDataset', 'face 0 (wide.png)', '60 values', 'faceShape');
  assert.is(compositeDataset(oblong, { size: SIZE, faceShape: [1, 6, 10] }).sample(0, 0).image.length, 3 * SIZE * SIZE);
  throwsWith(() => compositeDataset(oblong, { size: SIZE, faceShape: [1, 6, 10], mask: () => new Float32Array(5) }).sample(0, 0), 'compositeDataset', 'mask of face 0 (wide.png)', '5 values', '6x10');
  throwsWith(() => compositeDataset(faces, { size: SIZE, backgrounds: fixedBackground(new Float32Array(7)) }).sample(0, 0), 'compositeDataset', 'background source fixed', '7 values', `RGB [3, ${SIZE}, ${SIZE}]`);
});

test.run();
