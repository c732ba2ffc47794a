// From an image file to the model's input, with the conversions of the Node pipeline
// (src/fer/data/image.ts decodeImage + toChannels; evalTransform follows). That module cannot be bundled
// for a page (it decodes with pngjs and jpeg-js, which need Node's zlib and Buffer); here the browser
// decodes, and only the value conversions are repeated.

/** Decodes an image file; no colour-space conversion, so the pixels are the file's own. */
export function decodeFile(file: Blob): Promise<ImageBitmap> {
  return createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
}

/**
 * The image's pixels at [height, width]. An image of that size already is copied exactly; others are
 * resized by the browser (its own filtering, not the bilinear resize of the Node pipeline).
 */
export function pixelsAt(image: ImageBitmap, height: number, width: number): ImageData {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(image, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height);
}

/**
 * RGBA pixels as Float32 [channels, H, W] in [0, 1]. As in the Node pipeline, an image whose pixels
 * are all gray is one channel of R / 255, colour is converted to gray by ITU-R 601 luma (as PIL's
 * convert('L'), in float), and gray to colour repeats the plane.
 */
export function toChannels({ data: rgba, height, width }: ImageData, channels: number): Float32Array {
  const plane = height * width;
  let gray = true;
  for (let p = 0; p < plane && gray; p++) gray = rgba[4 * p] === rgba[4 * p + 1] && rgba[4 * p] === rgba[4 * p + 2];
  const out = new Float32Array(channels * plane);
  for (let p = 0; p < plane; p++) {
    const [r, g, b] = [0, 1, 2].map((k) => Math.fround(rgba[4 * p + k] / 255));
    if (gray) for (let c = 0; c < channels; c++) out[c * plane + p] = r;
    else if (channels === 1) out[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    else [r, g, b].forEach((v, c) => (out[c * plane + p] = v));
  }
  return out;
}
