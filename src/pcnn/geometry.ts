/** PCNN's geometry: the five crops of the official code, and the feature-map sizes they lead to. */

/** The crops of the official code: w1 = trunc(0.5 W), h1 = trunc(0.5 H), h2 = trunc(0.65 H). */
export function cropBoxes(height: number, width: number) {
  const w1 = Math.trunc(width * 0.5);
  const h1 = Math.trunc(height * 0.5);
  const h2 = Math.trunc(height * 0.65);
  return {
    leftEye: { top: 0, height: h1, left: 0, width: w1 },
    rightEye: { top: 0, height: h1, left: w1, width: width - w1 },
    leftCheek: { top: h1, height: h2 - h1, left: 0, width: w1 },
    rightCheek: { top: h1, height: h2 - h1, left: w1, width: width - w1 },
    mouth: { top: h2, height: height - h2, left: 0, width },
  };
}
export type CropBox = ReturnType<typeof cropBoxes>['mouth'];

/** Output length of a convolution or pooling window along one axis. */
export function convOutputSize(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

/** Output size of a ResNet-18 trunk (stem + layer1..3) for an input of `size` pixels along one axis. */
export function trunkSize(size: number): number {
  const stem = convOutputSize(size, 7, 2, 3);
  const pooled = convOutputSize(stem, 3, 2, 1);
  return layer4Size(layer4Size(pooled)); // layer2 and layer3 halve it as layer4 does
}

/** Output size of a stride-2 ResNet layer (3x3, padding 1). */
export function layer4Size(size: number): number {
  return convOutputSize(size, 3, 2, 1);
}

/** Rejects input sizes for which a crop is empty or a trunk's output would vanish. */
export function checkInputSize(size: readonly [number, number]): void {
  const [h, w] = size;
  if (!Number.isInteger(h) || !Number.isInteger(w)) throw new Error(`PCNN: input size must be integers, got [${size}]`);
  const boxes = cropBoxes(h, w);
  for (const [name, box] of Object.entries(boxes)) {
    if (box.height < 1 || box.width < 1) {
      throw new Error(`PCNN: input size ${h}x${w} gives an empty ${name} crop (${box.height}x${box.width}); use a larger input`);
    }
  }
}
