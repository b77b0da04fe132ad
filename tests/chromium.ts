import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';

/*
 * The system Chromium for the browser tests, driven by playwright-core (which downloads no
 * browser of its own). GRADGRAPH_CHROMIUM names another binary. Without one, the tests say how
 * to install it and skip, except in CI, which installs it (.ci/run) and so must have it.
 */

const CANDIDATES = [process.env.GRADGRAPH_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export const CHROMIUM = CANDIDATES.find((path): path is string => path !== undefined && path !== '' && existsSync(path)) ?? null;

export const MISSING_CHROMIUM = 'no Chromium found at /usr/bin/chromium: install it (Debian: sudo apt-get install chromium) or set GRADGRAPH_CHROMIUM to its path';

if (CHROMIUM === null) {
  if (process.env.CI) throw new Error(`browser tests: ${MISSING_CHROMIUM}; CI installs it in .ci/run`);
  process.stderr.write(`browser tests skipped: ${MISSING_CHROMIUM}\n`);
}

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] });
}

/**
 * `entry` bundled by esbuild for a page, with 'gradgraph' resolved to this repository's source,
 * as one script text that can sit inside a <script> element.
 */
export async function bundleForPage(entry: string): Promise<string> {
  const bundled = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    alias: { gradgraph: fileURLToPath(new URL('../src/index.ts', import.meta.url)) },
    logLevel: 'silent',
  });
  return bundled.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
}
