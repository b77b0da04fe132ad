import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { UsageError } from './args.js';

/** A path that names a folder: one that exists as a folder, or ends in a separator as `/tmp/` does. */
export function isFolderPath(path: string): boolean {
  if (path.endsWith('/') || path.endsWith(sep)) return true;
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Writes a file whole or not at all: the bytes go to a temporary file beside it, which is then
 * renamed over the target (atomic on one file system), so a reader never sees half a picture.
 */
export function writeFileAtomic(path: string, contents: string | Uint8Array): void {
  // Checked first: the temporary file of `/tmp/` would be `/.tmp.123.tmp`, beside the folder.
  if (isFolderPath(path)) throw new UsageError(`cannot write '${path}': it is a folder`);
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, contents);
    renameSync(temporary, path);
  } catch (error) {
    // force ignores a temporary file that was never made, but not a path through a file (ENOTDIR).
    try {
      rmSync(temporary, { force: true });
    } catch {
      // Nothing was written there, so nothing is left behind.
    }
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'its folder does not exist'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'EISDIR' ? 'it is a folder'
      : code === 'ENOTDIR' ? 'part of its folder is a file'
      : (error as Error).message;
    throw new UsageError(`cannot write '${path}': ${reason}`);
  }
}

/**
 * A message as one line for stderr: its first line, and when that is only a header ending in
 * ':' (esbuild's "Transform failed with 1 error:"), the line that says where and what, too.
 */
export function headline(message: string): string {
  const lines = message.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const [first = '', second] = lines;
  return first.endsWith(':') && second !== undefined ? `${first} ${second}` : first;
}
