import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * PyTorch, the peer of `npm run bench -- torch`, runs as ONE long-lived python child
 * (bench/torch_peer.py) that times its side of each case on request. The harness times round by
 * round and synchronously, so the requests go over two named pipes that this process reads and
 * writes with blocking calls; they are the child's stdin and stdout.
 */
export const PYTHONS = ['/usr/bin/python3', 'python3'];
const here = fileURLToPath(new URL('.', import.meta.url));
export const HOW_TO_GET_TORCH = 'PyTorch is not importable by /usr/bin/python3 or python3; on Debian or Ubuntu, `apt-get install python3-torch` gets it (1.13 on Debian 12).';

/**
 * How PyTorch's process allocates, chosen with GRADGRAPH_TORCH_MALLOC: `default` (glibc as it
 * comes), or `reuse`, glibc with its mmap and trim thresholds raised so that freed memory stays
 * in the heap for the next step. By default glibc gives each large tensor (≥ 32 MiB, and below
 * that until its dynamic threshold has moved, which depends on the process's history) fresh
 * pages from the system, a fault per 4 KiB on every step: PyTorch's fused BN at 1024×256 took
 * 0.42 ms in one process and 1.0–1.3 ms in three others (45,000 page faults in 4 s against
 * 408,000–456,000), and at 4096×1024 41–46 ms, against 13–16 ms with `reuse`. PyTorch's
 * performance guide suggests jemalloc or tcmalloc for the same reason; `reuse` is the same
 * effect with Debian's glibc (see the README's Speed section).
 */
export const TORCH_MALLOC: Readonly<Record<string, Record<string, string>>> = {
  default: {},
  reuse: { MALLOC_MMAP_THRESHOLD_: String(2 ** 30), MALLOC_TRIM_THRESHOLD_: String(2 ** 32) },
};

/** The GRADGRAPH_TORCH_MALLOC setting's name; throws, naming the choices, on anything else. */
export function torchMalloc(): string {
  const name = process.env.GRADGRAPH_TORCH_MALLOC ?? 'default';
  if (!Object.hasOwn(TORCH_MALLOC, name)) {
    throw new Error(`benchmark: GRADGRAPH_TORCH_MALLOC must be one of ${Object.keys(TORCH_MALLOC).join(', ')}, got '${name}'`);
  }
  return name;
}

/** The environment for a PyTorch process under the GRADGRAPH_TORCH_MALLOC setting. */
export function torchEnvironment(): NodeJS.ProcessEnv {
  return { ...process.env, ...TORCH_MALLOC[torchMalloc()] };
}

/** The first python that imports torch, or null. */
export function findTorchPython(): string | null {
  for (const python of PYTHONS) {
    try {
      execFileSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 60_000 });
      return python;
    } catch {
      // not this one
    }
  }
  return null;
}

export class TorchPeer {
  readonly folder = mkdtempSync(path.join(os.tmpdir(), 'gradgraph-torch-'));
  private readonly toPeer: number;
  private readonly fromPeer: number;
  private readonly child: ChildProcess;
  private pending = '';
  private nextId = 0;
  private files = 0;

  constructor(readonly python: string) {
    const toPeer = path.join(this.folder, 'to-peer');
    const fromPeer = path.join(this.folder, 'from-peer');
    execFileSync('mkfifo', [toPeer, fromPeer]);
    // Read-write opens of a FIFO do not wait for the other end (Linux).
    this.toPeer = openSync(toPeer, 'r+');
    const peerStdout = openSync(fromPeer, 'r+');
    this.child = spawn(python, [path.join(here, 'torch_peer.py')], { stdio: [this.toPeer, peerStdout, 'inherit'], env: torchEnvironment() });
    this.child.unref();
    // Keep only a read end here, so that the child's exit reads as end of file instead of a hang.
    this.fromPeer = openSync(fromPeer, 'r');
    closeSync(peerStdout);
  }

  /** Sends one request and blocks until its answer line; an answer with an error throws it. */
  ask(request: Record<string, unknown>): Record<string, unknown> {
    writeSync(this.toPeer, `${JSON.stringify(request)}\n`);
    let newline = this.pending.indexOf('\n');
    const chunk = Buffer.alloc(1 << 16);
    while (newline < 0) {
      const count = readSync(this.fromPeer, chunk, 0, chunk.length, null);
      if (count === 0) throw new Error(`benchmark: the PyTorch peer (${this.python} bench/torch_peer.py) exited; its error, if any, is printed above`);
      this.pending += chunk.toString('utf8', 0, count);
      newline = this.pending.indexOf('\n');
    }
    const answer = JSON.parse(this.pending.slice(0, newline)) as Record<string, unknown>;
    this.pending = this.pending.slice(newline + 1);
    if (typeof answer.error === 'string') throw new Error(`benchmark: ${answer.error}`);
    return answer;
  }

  /** Writes raw float64 data for the peer to read; returns the file's path. */
  file(data: Float64Array): string {
    const name = path.join(this.folder, `data-${this.files++}`);
    writeFileSync(name, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return name;
  }

  /** Sets up a case in the peer; returns its id. */
  setup(kind: string, fields: Record<string, unknown>): number {
    const id = this.nextId++;
    this.ask({ cmd: 'setup', id, case: kind, ...fields });
    return id;
  }

  /** The first `count` tensors case `id` returns in the peer (its gradients), as float64 values. */
  results(id: number, count: number): Float64Array[] {
    const prefix = path.join(this.folder, `result-${id}-`);
    this.ask({ cmd: 'result', id, prefix });
    return Array.from({ length: count }, (_, i) => {
      const bytes = readFileSync(`${prefix}${i}`);
      return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    });
  }

  /** Runs case `id` `repeat` times in a row in the peer and returns the milliseconds per run the peer measured. */
  time(id: number, repeat = 1): number {
    return this.ask({ cmd: 'time', id, repeat }).ms as number;
  }

  /** Runs case `id` `repeat` times in a row in the peer, each run timed on its own; returns their milliseconds. */
  steps(id: number, repeat: number): number[] {
    return this.ask({ cmd: 'steps', id, repeat }).ms as number[];
  }

  close(): void {
    this.child.kill();
    closeSync(this.toPeer);
    closeSync(this.fromPeer);
    rmSync(this.folder, { recursive: true, force: true });
  }
}
