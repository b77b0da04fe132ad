import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, fsyncSync, lstatSync, openSync, readlinkSync, readSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { UsageError } from './args.js';

/*
 * Every file the CLI writes goes through writeOutputFile, every file it reads whole through
 * readTextFile. A regular file is written whole or not at all: the bytes go to a new temporary
 * file beside it, which is then renamed over it (atomic on one file system), so a reader never
 * sees half a picture. What is not a regular file is never replaced by one: a character device
 * or a FIFO (/dev/null, a named pipe) is written through in place, a link is followed to the
 * file it names. A path that cannot be written is bad use (a UsageError, exit code 2); a write
 * that fails on the way (a full disk, /dev/full) is a failed run (exit code 1), never success.
 */

/** A path that names a folder: one that exists as a folder, or ends in a separator as `/tmp/` does. */
export function isFolderPath(path: string): boolean {
  if (path.endsWith('/') || path.endsWith(sep)) return true;
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** What is at the path, followed through links: what writing there means. */
type Target =
  | { kind: 'new file'; path: string }
  | { kind: 'regular file'; path: string; stats: Stats }
  | { kind: 'stream'; path: string };

const PATH_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'its folder does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a folder',
  ENOTDIR: 'part of its folder is a file',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'it is a loop of links',
  EROFS: 'the file system is read-only',
};

const WRITE_REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  EFBIG: 'the file would be too large',
  EIO: 'input/output error',
};

/** A failed file operation as the CLI reports it: bad use when the path is wrong, else a failed write. */
function fileError(verb: 'read' | 'write', path: string, error: unknown): Error {
  if (error instanceof UsageError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (verb === 'read' && code === 'ENOENT') return new UsageError(`cannot read '${path}': it does not exist`);
  // /proc exists, yet nothing can be created in it.
  if (code === 'ENOENT' && isFolderPath(dirname(path))) return new UsageError(`cannot write '${path}': its folder takes no new files`);
  if (Object.hasOwn(PATH_REASONS, code)) return new UsageError(`cannot ${verb} '${path}': ${PATH_REASONS[code]}`);
  return new Error(`cannot ${verb} '${path}': ${Object.hasOwn(WRITE_REASONS, code) ? WRITE_REASONS[code] : (error as Error).message}`);
}

function targetOf(path: string): Target {
  const entry = lstatSync(path, { throwIfNoEntry: false });
  if (entry === undefined) return { kind: 'new file', path };
  const stats = statSync(path, { throwIfNoEntry: false });
  // A link to nothing: creating its target somewhere else is more than the user asked for.
  if (stats === undefined) throw new UsageError(`cannot write '${path}': it is a link to '${readlinkSync(path)}', which does not exist`);
  if (stats.isDirectory()) throw new UsageError(`cannot write '${path}': it is a folder`);
  if (stats.isFile()) return { kind: 'regular file', path: entry.isSymbolicLink() ? realpathSync(path) : path, stats };
  if (stats.isCharacterDevice() || stats.isFIFO()) return { kind: 'stream', path };
  throw new UsageError(`cannot write '${path}': it is ${stats.isBlockDevice() ? 'a block device' : 'a socket'}; give a file name`);
}

function writeAll(descriptor: number, contents: string | Uint8Array): void {
  const bytes = typeof contents === 'string' ? Buffer.from(contents, 'utf8') : contents;
  for (let offset = 0; offset < bytes.length;) offset += writeSync(descriptor, bytes, offset, bytes.length - offset);
}

/** A device or a named pipe: opened as it is (never created, so never a regular file in its place). */
function writeThrough(path: string, contents: string | Uint8Array): void {
  const descriptor = openSync(path, constants.O_WRONLY | constants.O_NOCTTY);
  try {
    writeAll(descriptor, contents);
  } finally {
    closeSync(descriptor);
  }
}

/**
 * The temporary file: a random name no one can guess in advance, short enough beside a name
 * of 255 bytes, created exclusively (`wx`: O_CREAT | O_EXCL), which never opens an existing
 * file nor follows a link someone put there.
 */
export function temporaryPath(target: string): string {
  return join(dirname(target), `.gradgraph-${randomBytes(8).toString('hex')}.tmp`);
}

function keepOwnerAndMode(descriptor: number, existing: Stats): void {
  // The mode given to open is masked by the umask; fchmod sets exactly what the file had.
  fchmodSync(descriptor, existing.mode & 0o777);
  if (existing.uid === process.getuid?.() && existing.gid === process.getgid?.()) return;
  try {
    fchownSync(descriptor, existing.uid, existing.gid);
  } catch {
    // Only root may give a file away; anyone else's rewrite becomes theirs, as with `cp`.
  }
}

/** Replaces `path` whole; an existing file keeps its permissions (and owner, where we may set it). */
function replaceAtomically(path: string, contents: string | Uint8Array, existing: Stats | undefined): void {
  const temporary = temporaryPath(path);
  const descriptor = openSync(temporary, 'wx', existing ? existing.mode & 0o777 : 0o666);
  try {
    try {
      if (existing) keepOwnerAndMode(descriptor, existing);
      writeAll(descriptor, contents);
      // On disk before the rename: after a crash the name holds the old picture or the new one.
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * Writes `contents` to `path`: a regular file (also behind a link) whole or not at all, a
 * device or FIFO through in place. Refuses folders, block devices, sockets and dangling links.
 */
export function writeOutputFile(path: string, contents: string | Uint8Array): void {
  // Checked first: the temporary file of `/tmp/` would land beside the folder.
  if (isFolderPath(path)) throw new UsageError(`cannot write '${path}': it is a folder`);
  try {
    const target = targetOf(path);
    if (target.kind === 'stream') writeThrough(target.path, contents);
    else replaceAtomically(target.path, contents, target.kind === 'regular file' ? target.stats : undefined);
  } catch (error) {
    throw fileError('write', path, error);
  }
}

/** The most a file read whole (a .dot file) may hold: more is a mistake, not a graph to draw. */
export const READ_LIMIT_BYTES = 16 * 1024 * 1024;

/** 16777216 as `16 MiB`; a limit someone set in bytes stays in bytes. */
function formatBytes(bytes: number): string {
  return bytes % 2 ** 20 === 0 ? `${bytes / 2 ** 20} MiB` : `${bytes} bytes`;
}

/**
 * A text file read whole, refusing more than READ_LIMIT_BYTES: a link to /dev/zero or a huge
 * log named .dot ends with a message, not with the process out of memory.
 */
export function readTextFile(path: string, limit = READ_LIMIT_BYTES): string {
  const tooLarge = () => new UsageError(`cannot read '${path}': it is larger than ${formatBytes(limit)}, the most a file read whole may hold`);
  try {
    if (isFolderPath(path)) throw new UsageError(`cannot read '${path}': it is a folder`);
    const descriptor = openSync(path, 'r');
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      // Read in chunks, not by the size stat reports: a device or a pipe reports 0.
      for (;;) {
        const chunk = Buffer.allocUnsafe(Math.min(1 << 20, limit + 1 - total));
        const read = readSync(descriptor, chunk, 0, chunk.length, null);
        if (read === 0) break;
        total += read;
        if (total > limit) throw tooLarge();
        chunks.push(chunk.subarray(0, read));
      }
      return Buffer.concat(chunks, total).toString('utf8');
    } finally {
      closeSync(descriptor);
    }
  } catch (error) {
    throw fileError('read', path, error);
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
