/** What every loader returns: decoded samples, the class names their labels index, and what was skipped. */
export interface Sample {
  /** Float32 [C, H, W] in [0, 1]. */
  image: Float32Array;
  label: number;
  /** Where the sample came from (a path, or `file:line` for CSV rows): for error messages and reports. */
  file: string;
  /** The person pictured, where the dataset says (CK+): for subject-wise splits. */
  subject?: string;
  /** The face without its background, [C, H, W] like `image` (compositeDataset's target for FERAtt). */
  clean?: Float32Array;
}

export interface Skipped {
  file: string;
  reason: string;
}

export interface LoadedDataset {
  samples: Sample[];
  classNames: string[];
  skipped: Skipped[];
}

export interface ImageOptions {
  /** 1 (gray, the default) or 3. */
  channels?: number;
  /** [H, W] of every sample, default [48, 48]. */
  size?: readonly [number, number];
  /**
   * Unreadable images are skipped and listed in `skipped`; when more than this fraction of a dataset's
   * images fail (default 0.01), the loader throws instead, naming the first failures.
   */
  maxSkipFraction?: number;
}

export function resolveImageOptions(options: ImageOptions = {}) {
  const channels = options.channels ?? 1;
  const size = options.size ?? ([48, 48] as const);
  const maxSkipFraction = options.maxSkipFraction ?? 0.01;
  if (channels !== 1 && channels !== 3) throw new Error(`data: channels must be 1 or 3, got ${channels}`);
  if (size.length !== 2 || !size.every((s) => Number.isInteger(s) && s > 0)) {
    throw new Error(`data: size must be [H, W] with positive integers, got [${size}]`);
  }
  if (!(maxSkipFraction >= 0 && maxSkipFraction <= 1)) {
    throw new Error(`data: maxSkipFraction must be in [0, 1], got ${maxSkipFraction}`);
  }
  return { channels, size, maxSkipFraction };
}
