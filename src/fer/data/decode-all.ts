/** Reads and decodes a list of image files, skipping unreadable ones and accounting for every skip. */
import { readFileSync } from 'node:fs';
import { prepareImage } from './image.js';
import { resolveImageOptions, type ImageOptions, type Sample, type Skipped } from './types.js';

export interface ImageEntry {
  file: string;
  label: number;
  subject?: string;
}

/**
 * Decodes `entries` to samples (in order). A file that cannot be read or decoded becomes a `skipped`
 * entry with the reason; more than `maxSkipFraction` of them means the dataset itself is broken, and
 * `what` (the loader's name) throws with the count and the first few files.
 */
export function decodeAll(what: string, entries: ImageEntry[], options: ImageOptions): { samples: Sample[]; skipped: Skipped[] } {
  const { channels, size, maxSkipFraction } = resolveImageOptions(options);
  const samples: Sample[] = [];
  const skipped: Skipped[] = [];
  for (const entry of entries) {
    try {
      const image = prepareImage(readFileSync(entry.file), entry.file, channels, size);
      samples.push({ image, ...entry });
    } catch (error) {
      skipped.push({ file: entry.file, reason: (error as Error).message });
    }
  }
  if (skipped.length > maxSkipFraction * entries.length) {
    const first = skipped.slice(0, 5).map((s) => `${s.file} (${s.reason})`);
    throw new Error(
      `${what}: ${skipped.length} of ${entries.length} images could not be decoded, more than the allowed ` +
        `fraction ${maxSkipFraction}; first: ${first.join('; ')}`,
    );
  }
  return { samples, skipped };
}
