/** torchvision's ImageFolder: one class per sub-folder, labels by sorted folder name. */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { decodeAll, type ImageEntry } from './decode-all.js';
import type { ImageOptions, LoadedDataset } from './types.js';

/** torchvision's IMG_EXTENSIONS: files we cannot decode (BMP, TIFF...) end up in `skipped`, not ignored. */
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp']);

/** Class folders of `root`, sorted by code point as Python's sorted() does. */
export function classFolders(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory() || (d.isSymbolicLink() && statSync(path.join(root, d.name)).isDirectory()))
      .map((d) => d.name);
  } catch (error) {
    throw new Error(`imageFolder: cannot read ${root}: ${(error as Error).message}`);
  }
  if (!names.length) throw new Error(`imageFolder: ${root} has no class sub-folders`);
  names.sort(byCodePoint);
  refuseOverlappingFolders(root, names);
  return names;
}

/** `inner` is `outer` or lies under it (both real paths). */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);
}

/**
 * Class folders reached through symbolic links may resolve to the root itself or a folder above it (every
 * sample would be read again under that class), or to another class folder or a folder inside one (its
 * samples counted twice, under two labels). Both are refused, naming the folders and where they lead.
 */
function refuseOverlappingFolders(root: string, names: readonly string[]): void {
  const realRoot = realpathSync(root);
  const real = names.map((name) => realpathSync(path.join(root, name)));
  // The root first: a link to it also holds every other class folder, which is not the fault to report.
  names.forEach((name, i) => {
    if (within(realRoot, real[i])) {
      throw new Error(
        `imageFolder: class folder ${path.join(root, name)} leads to ${real[i]}, the data root ${root} or a folder ` +
          `above it; every sample would be read again under class '${name}'`,
      );
    }
  });
  names.forEach((name, i) => {
    const other = real.findIndex((r, j) => j !== i && within(real[i], r));
    if (other >= 0) {
      throw new Error(
        `imageFolder: class folder ${path.join(root, name)} leads to ${real[i]}, inside class folder ` +
          `${path.join(root, names[other])} (${real[other]}); its samples would be counted under both classes`,
      );
    }
  });
}

export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Image files under `dir`, recursively, in sorted order (torchvision walks sub-folders too). */
function imageFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => byCodePoint(a.name, b.name))
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return imageFiles(full);
      return IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase()) ? [full] : [];
    });
}

/**
 * Loads `root/<class>/**` images; label = index of the class in the sorted folder names.
 * Throws when there is no class folder or a class folder holds no image file.
 */
export function imageFolder(root: string, options: ImageOptions = {}): LoadedDataset {
  const classNames = classFolders(root);
  const entries: ImageEntry[] = classNames.flatMap((name, label) => {
    const files = imageFiles(path.join(root, name));
    if (!files.length) throw new Error(`imageFolder: class folder ${path.join(root, name)} holds no image file`);
    return files.map((file) => ({ file, label }));
  });
  return { ...decodeAll('imageFolder', entries, options), classNames };
}
