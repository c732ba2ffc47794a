// The ticks of the CLI's charts and of the demo page's (src/fer/colormap.ts), the colour scale, and the
// pictures they go into (src/fer/plot.ts): round values, integer epochs, no "2.00" / "45.71" ticks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PNG } from 'pngjs';
import { formatTick, niceCeil, niceTicks, viridis } from '../src/fer/colormap.js';
import { Canvas, lineChart } from '../src/fer/plot.js';

test('niceTicks: 1, 2 or 5 times a power of ten, inside the range; integers when asked', () => {
  assert.equal(niceTicks(0, 45.71, 5), [0, 10, 20, 30, 40]);
  assert.equal(niceTicks(0, 1, 4), [0, 0.5, 1]);
  assert.equal(niceTicks(1, 3, 6, true), [1, 2, 3], 'epochs 1..3: no 1.5');
  assert.equal(niceTicks(1, 12, 6, true), [2, 4, 6, 8, 10, 12]);
  assert.equal(niceTicks(0.0012, 0.0049, 3), [0.002, 0.004]);
  assert.equal(niceTicks(NaN, 1), []);
});

test('formatTick: as many decimals as the step needs', () => {
  assert.is(formatTick(20, 10), '20');
  assert.is(formatTick(0.5, 0.1), '0.5');
  assert.is(formatTick(0.25, 0.05), '0.25');
  assert.is(formatTick(0, 0.1), '0');
  assert.is(formatTick(2e6, 1e6), '2e+6');
});

test('niceCeil and viridis', () => {
  assert.is(niceCeil(144), 200);
  assert.is(niceCeil(48.3), 50);
  assert.is(niceCeil(2.1), 2.5);
  assert.is(niceCeil(NaN), 1);
  assert.equal(viridis(0), [68, 1, 84]);
  assert.equal(viridis(1), [253, 231, 37]);
  assert.equal(viridis(2), [253, 231, 37], 'clamped');
  assert.equal(viridis(NaN), [128, 128, 128]);
});

test('lineChart: a PNG of the size asked (old positional width/height still taken); overlay and colour bar draw in the scale', () => {
  const series = [{ name: 'train loss', points: [[1, 40], [2, 35.5], [3, 30.2]] as [number, number][] }];
  const png = PNG.sync.read(lineChart('training loss', 'epoch', series, { width: 320, height: 200, yLabel: 'loss' }));
  assert.is(png.width, 320);
  assert.is(png.height, 200);
  assert.is(PNG.sync.read(lineChart('t', 'epoch', series, 300, 180)).width, 300);
  const canvas = new Canvas(40, 20);
  canvas.overlay(0, 0, new Float32Array(4).fill(0), 2, 2, 5, Float32Array.from([0, 1]), 2, 1, [0, 1], 1);
  const at = (x: number, y: number) => Array.from(canvas.png.data.subarray(4 * (y * 40 + x), 4 * (y * 40 + x) + 3));
  assert.equal(at(0, 0), viridis(0), 'top row of the map: low');
  assert.equal(at(0, 9), viridis(1), 'bottom row: high');
  canvas.colorBar(20, 0, 20, [0, 1], 'x');
  assert.equal(at(20, 0), viridis(1), 'the bar is high at the top');
});

test.run();
