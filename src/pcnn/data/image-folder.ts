/** torchvision's ImageFolder: one class per sub-folder, labels by sorted folder name. */
import { readdirSync, statSync } from 'node:fs';
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
  return names.sort(byCodePoint);
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
