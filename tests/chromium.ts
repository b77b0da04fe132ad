import { existsSync } from 'node:fs';
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
