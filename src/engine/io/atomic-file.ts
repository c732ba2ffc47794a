/**
 * The only file-system code of the io modules (Node only, loaded on demand so that the byte-level
 * encoders also run in a browser). A checkpoint is either the old file or the complete new one, even
 * after a crash or power loss: the bytes go to a temporary file in the same directory (a rename
 * across file systems would not be atomic), which is fsynced, renamed over the target, and the
 * directory is fsynced so that the rename itself is durable.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd = openSync(temporary, 'wx');
  try {
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(temporary, path);
  } catch (error) {
    if (fd >= 0) closeSync(fd);
    rmSync(temporary, { force: true });
    throw new Error(`writing ${path}: ${(error as Error).message}`);
  }
  syncDirectory(directory);
}

function syncDirectory(directory: string): void {
  let fd: number;
  try {
    fd = openSync(directory, 'r');
  } catch (error) {
    // Windows cannot open a directory for fsync; its rename is durable without it.
    if ((error as NodeJS.ErrnoException).code === 'EISDIR' || (error as NodeJS.ErrnoException).code === 'EPERM') return;
    throw error;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function readFileBytes(path: string): Uint8Array {
  try {
    const buffer = readFileSync(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw new Error(`reading ${path}: ${(error as Error).message}`);
  }
}
