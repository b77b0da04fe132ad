import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/*
 * TensorFlow.js, the peer we measure against, is about 300 MB installed, so it is no dependency
 * of gradgraph: the benchmark installs its pinned version on first use into bench/.peers/
 * (ignored by git) and says so.
 */
const PEER = '@tensorflow/tfjs@4.22.0';
const folder = fileURLToPath(new URL('./.peers/', import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TensorFlow = any;

export async function loadTensorFlow(): Promise<TensorFlow | null> {
  const entry = `${folder}node_modules/@tensorflow/tfjs/package.json`;
  if (!existsSync(entry)) {
    console.log(`Installing the benchmark peer ${PEER} (about 300 MB, once) into bench/.peers/ ...`);
    try {
      execFileSync('npm', ['install', '--prefix', folder, '--no-save', '--no-audit', '--no-fund', PEER], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch (error) {
      console.log(`Could not install ${PEER}: ${(error as Error).message}. Skipping the TF.js comparison.`);
      return null;
    }
  }
  const require = createRequire(entry);
  // TF.js greets Node users (suggesting tfjs-node) on the CPU backend's first tensor; create that
  // tensor here, silenced, to keep the benchmark's table clean.
  const { log, warn } = console;
  console.log = console.warn = () => {};
  try {
    const tf = require('@tensorflow/tfjs');
    await tf.setBackend('cpu');
    tf.tensor([0]).dispose();
    return tf;
  } finally {
    Object.assign(console, { log, warn });
  }
}
