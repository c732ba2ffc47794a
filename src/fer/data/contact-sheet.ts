/** Writing images back out: PNG encoding and contact sheets, to look at what the data layer produces. */
import { PNG } from 'pngjs';

/** PNG bytes of a Float32 [C, H, W] image (C = 1 or 3), values clamped to [0, 1] and rounded to 8 bits. */
export function encodePng(data: Float32Array, channels: number, height: number, width: number): Buffer {
  if ((channels !== 1 && channels !== 3) || data.length !== channels * height * width) {
    throw new Error(`encodePng: expected ${channels === 1 || channels === 3 ? channels : '1 or 3'} x ${height} x ${width} values, got ${data.length} with ${channels} channels`);
  }
  const png = new PNG({ width, height });
  const plane = height * width;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = data[(channels === 1 ? 0 : c) * plane + p];
      png.data[4 * p + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
    png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png);
}

/** Tiles equally sized [C, H, W] images row by row, `columns` per row, with a 2-pixel gap. */
export function contactSheet(images: readonly Float32Array[], channels: number, height: number, width: number, columns: number): Buffer {
  const gap = 2;
  const rows = Math.ceil(images.length / columns);
  const sheetH = rows * (height + gap) + gap;
  const sheetW = columns * (width + gap) + gap;
  const sheet = new Float32Array(channels * sheetH * sheetW).fill(1);
  images.forEach((image, i) => {
    const top = gap + Math.floor(i / columns) * (height + gap);
    const left = gap + (i % columns) * (width + gap);
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < height; y++) {
        const row = image.subarray((c * height + y) * width, (c * height + y + 1) * width);
        sheet.set(row, (c * sheetH + top + y) * sheetW + left);
      }
    }
  });
  return encodePng(sheet, channels, sheetH, sheetW);
}
