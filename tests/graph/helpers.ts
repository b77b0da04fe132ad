import { readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';

/** The text lines an SVG shows, entities decoded; Graphviz writes a run of spaces with &#160;. */
export function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((match) =>
    match[1]
      .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
      .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCodePoint(parseInt(code, 16)))
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&')
      .replace(/\u00A0/g, ' '),
  );
}

export const goldenPath = (name: string) => new URL(`./golden/${name}`, import.meta.url);

/** Compares with tests/graph/golden/NAME; `UPDATE_GOLDEN=1 npx vitest run` rewrites the files. */
export function expectGolden(name: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(goldenPath(name), actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(goldenPath(name), 'utf8');
  } catch {
    throw new Error(`golden file tests/graph/golden/${name} is missing: run UPDATE_GOLDEN=1 npx vitest run tests/graph, then review and commit it`);
  }
  expect(actual, `DOT differs from tests/graph/golden/${name} (UPDATE_GOLDEN=1 rewrites it; review the diff)`).toBe(expected);
}
