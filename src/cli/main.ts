#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { COMMANDS, DRAWABLE } from './commands.js';
import { headline, printable } from './output.js';
import { GraphvizError } from '../index.js';

/*
 * gradgraph's command line. Exit codes: 0 done, 1 the work failed (a gradient check that does
 * not pass, a Graphviz error, a mistake in a user's module: it does not compile, exports no
 * function, throws or returns no tensors), 2 bad use (unknown command, option or graph, a bad
 * number, a file that does not exist, a path that cannot be written). Errors are one line on
 * stderr.
 */

const MAIN_HELP = `Usage: gradgraph <command> [options]

Commands:
  draw ${DRAWABLE}|FILE
                            draw a computational graph as SVG, PNG, DOT or HTML (the explorer)
  check batchnorm|FILE      check gradients numerically, naming the op that is wrong
  start                     draw the gallery into graphs/ and print the gradient check

Options:
  -h, --help                show this help (gradgraph help <command>: a command's help)
  -v, --version             print gradgraph's version

Run gradgraph <command> --help for a command's options.
`;

/*
 * `gradgraph start | head -3`: once the reader has all it wants and closes the pipe, writing
 * more fails with EPIPE. Nobody is left to read an error then, so stop quietly, as `cat` does.
 */
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  process.stderr.write(`gradgraph: error: cannot write to stdout: ${error.message}\n`);
  process.exit(1);
});

/** The version in our own package.json, two folders up from both src/cli and dist/cli. */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export async function main(argv: readonly string[]): Promise<number> {
  const io = { stdout: (text: string | Uint8Array) => process.stdout.write(text), stdoutIsTerminal: process.stdout.isTTY === true };
  const [first, ...rest] = argv;
  // `gradgraph help draw` is `gradgraph draw --help`.
  const [command, args] = first === 'help' && rest.length > 0 ? [rest[0], ['--help']] : [first, rest];
  try {
    if (command === undefined) throw new UsageError('which command? (see gradgraph --help)');
    if (command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(MAIN_HELP);
      return 0;
    }
    if (command === '--version' || command === '-v') {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    const run = COMMANDS.get(command);
    if (run === undefined) throw new UsageError(`unknown command '${command}' (expected ${[...COMMANDS.keys()].join(', ')}; see gradgraph --help)`);
    return await run(args, io);
  } catch (error) {
    const prefix = error instanceof GraphvizError ? '' : 'error: ';
    const message = error instanceof Error ? error.message : String(error);
    // A UsageError is one line by construction: a newline in it came from a file name or an argument.
    process.stderr.write(`gradgraph: ${error instanceof UsageError ? '' : prefix}${printable(error instanceof UsageError ? message : headline(message))}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
