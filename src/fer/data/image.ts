/**
 * Image decoding and the two conversions every loader applies: channel count and size.
 * Images are Float32 [C, H, W] in [0, 1], row-major, channels planar (PyTorch's ToTensor layout).
 */
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';

export interface Image {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

/** The default of `DecodeOptions.maxMegapixels`: 64 MP (8000x8000), beyond any face photograph. A decode
 *  costs about 16 bytes a pixel for PNG (RGBA, then float) and 20 for JPEG (jpeg-js's coefficient blocks
 *  and planes, then RGBA), so the limit keeps one image near 1-1.5 GB. */
export const DEFAULT_MAX_MEGAPIXELS = 64;

export interface DecodeOptions {
  /** The largest image, in millions of pixels, that is decoded (default DEFAULT_MAX_MEGAPIXELS); a
   *  file's declared size is checked before its pixels are. */
  maxMegapixels?: number;
}

/** Width and height from the PNG's IHDR chunk (always the first), or null if there is none there. */
function pngDimensions(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 24 || new TextDecoder().decode(bytes.subarray(12, 16)) !== 'IHDR') return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** One scan's header (SOS): its component count, spectral selection Ss..Se and successive approximation Ah, Al. */
interface JpegScan {
  components: number;
  spectralStart: number;
  spectralEnd: number;
  approximationHigh: number;
  approximationLow: number;
}

/** What the marker walk of a JPEG finds: the first start-of-frame (its marker and declared size; null if
 *  none comes before the first scan) and every scan header it reaches. */
interface JpegHeaders {
  frame: { marker: number; width: number; height: number } | null;
  scans: JpegScan[];
}

/** Start-of-frame markers: SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC). */
const isStartOfFrame = (marker: number) => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
/** SOF2, SOF6, SOF10, SOF14: the progressive frames (Huffman or arithmetic, plain or differential). */
const isProgressiveFrame = (marker: number) => marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce;
const START_OF_SCAN = 0xda;
const END_OF_IMAGE = 0xd9;
/** Markers that may stand inside entropy-coded data: RST0..RST7. */
const isRestart = (marker: number) => marker >= 0xd0 && marker <= 0xd7;

/**
 * Walks the JPEG's marker segments: the first start-of-frame, and each scan header, skipping each scan's
 * entropy-coded data (up to the next marker that is neither a stuffed 0xFF00 nor a restart). Stops at the
 * end of the image or wherever the structure breaks (truncation, garbage): what was found until then is
 * returned, and the decoder reports the break.
 */
function readJpegHeaders(bytes: Uint8Array): JpegHeaders {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headers: JpegHeaders = { frame: null, scans: [] };
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === END_OF_IMAGE) break;
    const segmentEnd = at + 2 + view.getUint16(at + 2);
    if (segmentEnd > bytes.length) break;
    if (isStartOfFrame(marker) && !headers.frame && segmentEnd >= at + 9) {
      headers.frame = { marker, height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    }
    if (marker === START_OF_SCAN) {
      if (!headers.frame) break; // a scan before any frame: the decoder refuses the file
      const components = bytes[at + 4];
      const selection = at + 5 + 2 * components; // Ss, Se, then Ah << 4 | Al
      if (selection + 3 > segmentEnd) break;
      headers.scans.push({
        components,
        spectralStart: bytes[selection],
        spectralEnd: bytes[selection + 1],
        approximationHigh: bytes[selection + 2] >> 4,
        approximationLow: bytes[selection + 2] & 0x0f,
      });
      at = segmentEnd;
      while (at + 1 < bytes.length && !(bytes[at] === 0xff && bytes[at + 1] !== 0 && !isRestart(bytes[at + 1]))) at++;
      continue;
    }
    at = segmentEnd;
  }
  return headers;
}

/** Why `scan` cannot belong to its frame, or null. Progressive frames (ITU-T T.81, G.1.1.1): Ss <= Se
 *  <= 63, a DC scan (Ss = 0) holds DC alone (Se = 0), an AC scan (Ss > 0) one component, Ah and Al at
 *  most 13. Sequential frames: every scan is the whole spectrum at once, Ss = 0, Se = 63, Ah = Al = 0.
 *  A file relabelled from one to the other (SOF0 <-> SOF2) breaks these at its first scan; jpeg-js would
 *  decode it to noise without complaint. */
function jpegScanProblem(frameMarker: number, scan: JpegScan): string | null {
  const { components, spectralStart: ss, spectralEnd: se, approximationHigh: ah, approximationLow: al } = scan;
  const fields = `Ss=${ss}, Se=${se}, Ah=${ah}, Al=${al}`;
  if (!isProgressiveFrame(frameMarker)) {
    if (ss === 0 && se === 63 && ah === 0 && al === 0) return null;
    return `${fields} in a sequential frame (SOF${frameMarker - 0xc0}), which expects Ss=0, Se=63, Ah=0, Al=0`;
  }
  const frame = `a progressive frame (SOF${frameMarker - 0xc0})`;
  if (ss === 0 && se === 63 && ah === 0 && al === 0) {
    return `${fields} in ${frame}: a baseline scan, as in a sequential JPEG whose frame marker was changed to progressive`;
  }
  if (se > 63 || ss > se) return `${fields} in ${frame}, which expects Ss <= Se <= 63`;
  if (ss === 0 && se !== 0) return `${fields} in ${frame}, where a DC scan (Ss=0) expects Se=0`;
  if (ss > 0 && components !== 1) return `${fields} with ${components} components in ${frame}, where an AC scan (Ss>0) expects 1`;
  if (ah > 13 || al > 13) return `${fields} in ${frame}, which expects Ah and Al at most 13`;
  return null;
}

/** Refuses a JPEG whose scan headers contradict its frame (see jpegScanProblem), naming the file. */
function checkJpegScans(headers: JpegHeaders, file: string): void {
  if (!headers.frame) return; // no frame: the decoder reports what is wrong
  for (const [index, scan] of headers.scans.entries()) {
    const problem = jpegScanProblem(headers.frame.marker, scan);
    if (problem) throw new Error(`decodeImage: ${file}: invalid JPEG, scan ${index + 1} has ${problem}; not decoded`);
  }
}

function checkMegapixels(dimensions: { width: number; height: number } | null, maxMegapixels: number, file: string): void {
  if (!dimensions) return; // no size to check: the decoder reports what is wrong
  const megapixels = (dimensions.width * dimensions.height) / 1e6;
  if (megapixels > maxMegapixels) {
    throw new Error(
      `decodeImage: ${file} declares ${dimensions.width}x${dimensions.height} pixels (${megapixels.toFixed(1)} MP), more than the ` +
        `limit of ${maxMegapixels} MP; not decoded (the maxMegapixels option raises the limit)`,
    );
  }
}

/**
 * Decodes PNG (1/2/4/8/16-bit gray, gray+alpha, RGB, RGBA, palette) or JPEG (baseline/progressive,
 * gray or colour), told apart by their signatures, not by the file name. The result has 1 channel when
 * every pixel has R = G = B (gray sources, exactly their stored values) and 3 otherwise. Alpha is
 * dropped, not composited, as PIL's convert('RGB') does. `file` only names the image in errors.
 * JPEG pixels can differ from libjpeg's (PIL's) by a few levels: different IDCT rounding, and jpeg-js
 * replicates subsampled chroma where libjpeg interpolates it. Images larger than `maxMegapixels` are
 * refused from their headers, before any pixel is decoded, as are JPEGs whose scan headers contradict
 * their frame (jpegScanProblem: a baseline file relabelled progressive, which jpeg-js decodes to noise).
 */
export function decodeImage(bytes: Uint8Array, file = '<buffer>', options: DecodeOptions = {}): Image {
  const maxMegapixels = options.maxMegapixels ?? DEFAULT_MAX_MEGAPIXELS;
  if (!(maxMegapixels > 0 && Number.isFinite(maxMegapixels))) {
    throw new Error(`decodeImage: maxMegapixels must be a positive number, got ${maxMegapixels}`);
  }
  const starts = (sig: number[]) => sig.every((b, i) => bytes[i] === b);
  let rgba: ArrayLike<number>;
  let max: number;
  let width: number;
  let height: number;
  if (starts(PNG_SIGNATURE)) checkMegapixels(pngDimensions(bytes), maxMegapixels, file);
  else if (starts(JPEG_SIGNATURE)) {
    const headers = readJpegHeaders(bytes);
    checkMegapixels(headers.frame, maxMegapixels, file);
    checkJpegScans(headers, file);
  }
  try {
    if (starts(PNG_SIGNATURE)) {
      // skipRescale keeps 16-bit samples whole (pngjs would otherwise round them to 8 bits).
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
      ({ width, height } = png);
      rgba = png.data;
      // Palette entries are 8-bit whatever the index depth; other samples span 0..2^depth - 1.
      max = (png.colorType as number) === 3 ? 255 : 2 ** png.depth - 1;
    } else if (starts(JPEG_SIGNATURE)) {
      // jpeg-js's own limits as a second line. Its memory count (4 bytes a pixel per component for the
      // coefficient blocks, 1 for each plane, 4 for RGBA: 19 for colour, plus block padding) must not
      // refuse an image that maxMegapixels allows, hence 24 MB a megapixel.
      const maxMemoryUsageInMB = Math.max(256, Math.ceil(maxMegapixels * 24));
      const jpg = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxMegapixels, maxMemoryUsageInMB });
      ({ width, height } = jpg);
      rgba = jpg.data;
      max = 255;
    } else {
      throw new Error('not a PNG or JPEG file (unknown signature)');
    }
  } catch (error) {
    throw new Error(`decodeImage: cannot decode ${file}: ${(error as Error).message}`);
  }
  if (!(width > 0 && height > 0) || rgba.length < width * height * 4) {
    throw new Error(`decodeImage: cannot decode ${file}: ${width}x${height} image with ${rgba.length} RGBA values`);
  }
  return fromRgba(rgba, width, height, max);
}

function fromRgba(rgba: ArrayLike<number>, width: number, height: number, max: number): Image {
  const plane = width * height;
  let gray = true;
  for (let p = 0; p < plane && gray; p++) gray = rgba[4 * p] === rgba[4 * p + 1] && rgba[4 * p] === rgba[4 * p + 2];
  const channels = gray ? 1 : 3;
  const data = new Float32Array(channels * plane);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) data[c * plane + p] = rgba[4 * p + c] / max;
  }
  return { data, channels, height, width };
}

/**
 * 1 or 3 channels. Colour to gray uses ITU-R 601 luma, 0.299 R + 0.587 G + 0.114 B, as PIL's
 * convert('L') does, but in float (PIL rounds to 8 bits); gray to colour repeats the plane.
 */
export function toChannels(image: Image, channels: number): Image {
  if (channels !== 1 && channels !== 3) throw new Error(`toChannels: channels must be 1 or 3, got ${channels}`);
  if (image.channels !== 1 && image.channels !== 3) {
    throw new Error(`toChannels: input must have 1 or 3 channels, got ${image.channels}`);
  }
  if (image.channels === channels) return image;
  const plane = image.height * image.width;
  const src = image.data;
  const data = new Float32Array(channels * plane);
  if (channels === 1) {
    for (let p = 0; p < plane; p++) data[p] = 0.299 * src[p] + 0.587 * src[plane + p] + 0.114 * src[2 * plane + p];
  } else {
    for (let c = 0; c < 3; c++) data.set(src, c * plane);
  }
  return { ...image, data, channels };
}

/**
 * Bilinear resize exactly as torch.nn.functional.interpolate(mode='bilinear', align_corners=False,
 * antialias=False): source coordinate (dst + 0.5) * in / out - 0.5, clamped below at 0. There is no
 * antialiasing, so strong downscaling aliases; the loaders use resizeAntialiased.
 */
export function resizeBilinear(image: Image, height: number, width: number): Image {
  checkOutputSize('resizeBilinear', height, width);
  if (height === image.height && width === image.width) return image;
  return resample(image, bilinearTaps(image.height, height), bilinearTaps(image.width, width));
}

/**
 * Resize as torchvision's Resize does by default (antialias=True; PIL's BILINEAR, and
 * interpolate(mode='bilinear', antialias=True) on tensors): along an axis that shrinks by a factor s, each
 * output pixel is the normalised triangle-filter average of the source pixels within s of its centre, so
 * detail finer than the output grid is averaged away instead of aliasing (a 256x256 face shrunk to 48x48
 * by plain bilinear sampling reads 2 of every ~5 source pixels). An axis that grows or keeps its size is
 * plain bilinear (resizeBilinear's taps): there the filter's support is one pixel and the two agree.
 */
export function resizeAntialiased(image: Image, height: number, width: number): Image {
  checkOutputSize('resizeAntialiased', height, width);
  if (height === image.height && width === image.width) return image;
  return resample(image, antialiasTaps(image.height, height), antialiasTaps(image.width, width));
}

function checkOutputSize(what: string, height: number, width: number): void {
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
    throw new Error(`${what}: output size must be positive integers, got ${height}x${width}`);
  }
}

/** Along one axis, per output index: the first source index it reads and the weights (summing to 1) of
 *  that source index and the ones after it. */
type AxisTaps = { first: number; weights: Float64Array }[];

/** Bilinear taps: the source coordinate's two neighbours (one at the far edge, where the second would
 *  lie outside the image). */
function bilinearTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  return Array.from({ length: outSize }, (_, o) => {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const first = Math.min(Math.floor(src), inSize - 1);
    const lambda = src - first;
    return { first, weights: first < inSize - 1 ? Float64Array.of(1 - lambda, lambda) : Float64Array.of(1) };
  });
}

/**
 * The taps of PIL's ImagingResample (and torch's _compute_weights_aa) for the bilinear filter when the
 * axis shrinks: centre c = (o + 0.5) * s, source pixels from trunc(c - s + 0.5) (at least 0) to before
 * trunc(c + s + 0.5) (at most inSize), pixel j weighted max(0, 1 - |j + 0.5 - c| / s), then normalised.
 */
function antialiasTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  if (scale <= 1) return bilinearTaps(inSize, outSize);
  return Array.from({ length: outSize }, (_, o) => {
    const center = (o + 0.5) * scale;
    const first = Math.max(Math.trunc(center - scale + 0.5), 0);
    const end = Math.min(Math.trunc(center + scale + 0.5), inSize);
    const weights = Float64Array.from({ length: end - first }, (_, k) => Math.max(0, 1 - Math.abs(first + k + 0.5 - center) / scale));
    const total = weights.reduce((a, b) => a + b, 0);
    return { first, weights: weights.map((w) => w / total) };
  });
}

/** Separable resampling: rows of every channel along x (kept in float64), then columns along y. */
function resample(image: Image, rows: AxisTaps, cols: AxisTaps): Image {
  const { channels, data: src, height: inHeight, width: inWidth } = image;
  const [height, width] = [rows.length, cols.length];
  const across = new Float64Array(channels * inHeight * width);
  for (let r = 0; r < channels * inHeight; r++) {
    for (let x = 0; x < width; x++) {
      const { first, weights } = cols[x];
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k] * src[r * inWidth + first + k];
      across[r * width + x] = sum;
    }
  }
  const data = new Float32Array(channels * height * width);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      const { first, weights } = rows[y];
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += weights[k] * across[(c * inHeight + first + k) * width + x];
        data[(c * height + y) * width + x] = sum;
      }
    }
  }
  return { data, channels, height, width };
}

/** Decode, convert to `channels` and resize (antialiased) to `size` [H, W]: the model's input as Float32 [C, H, W]. */
export function prepareImage(bytes: Uint8Array, file: string, channels: number, size: readonly [number, number], options: DecodeOptions = {}): Float32Array {
  return resizeAntialiased(toChannels(decodeImage(bytes, file, options), channels), size[0], size[1]).data;
}
