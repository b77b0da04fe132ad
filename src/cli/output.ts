import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from './args.js';

/**
 * Writes a file whole or not at all: the bytes go to a temporary file beside it, which is then
 * renamed over the target (atomic on one file system), so a reader never sees half a picture.
 */
export function writeFileAtomic(path: string, contents: string | Uint8Array): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, contents);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'its folder does not exist'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'EISDIR' ? 'it is a folder'
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
