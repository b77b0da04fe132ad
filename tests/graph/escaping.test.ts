import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { quote, renderSvg, tensor, toDot } from 'gradgraph';
import { svgTexts } from './helpers.js';

/*
 * Any name gives DOT that Graphviz parses, and the name comes back in the SVG as it was given
 * (line by line: Graphviz draws one text element per line and none for an empty line).
 */

const tricky = fc.constantFrom('"', '\\', '\n', '\r\n', '<', '>', '&', '{', '}', '|', ' ', '  ', 'γ', 'β', 'σ²', 'μ', 'ε', 'x̂', '\\n', '\\N', '&amp;', '&#45;', '\u00A0', '😀');
// Printable text: every code point except the C0 controls and DEL, which have no glyph.
const printable = fc.string({ unit: 'binary' }).map((s) => s.replace(/[\u0000-\u001F\u007F\uFFFE\uFFFF]/g, ''));
const names = fc.array(fc.oneof(tricky, printable), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('')).filter((s) => s !== '');

/** What a name's label shows: its lines, without the empty ones Graphviz does not draw. */
function shownLines(name: string): string[] {
  return name.replace(/\r\n?/g, '\n').replace(/\u00A0/g, ' ').split('\n').filter((line) => line !== '');
}

async function labelLines(name: string): Promise<string[]> {
  const svg = await renderSvg(toDot(tensor([1, 2], { name, requiresGrad: true })));
  // The tensor's label is its name, then its shape `2` as the last line.
  const texts = svgTexts(svg);
  expect(texts[texts.length - 1]).toBe('2');
  return texts.slice(0, -1);
}

describe('escaping', () => {
  it('round-trips any printable name through DOT and the SVG', async () => {
    await fc.assert(fc.asyncProperty(names, async (name) => {
      expect(await labelLines(name)).toEqual(shownLines(name));
    }), { numRuns: 300 });
  });

  it('gives valid DOT for any string at all, control characters and lone surrogates included', async () => {
    const anything = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)), minLength: 1 });
    await fc.assert(fc.asyncProperty(anything, async (name) => {
      const svg = await renderSvg(toDot(tensor([1, 2], { name, requiresGrad: true }), { title: name }));
      // Nothing an XML parser would reject: no C0 control other than tab and newline, no lone surrogate.
      expect(svg).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }), { numRuns: 200 });
  });

  it('shows control characters as their Control Pictures symbols', async () => {
    expect(quote('a\u0000b\tc\u007F')).toBe('"a\u2400b\u2409c\u2421"');
    expect(await labelLines('bell\u0007')).toEqual(['bell\u2407']);
  });

  it('writes quotes, backslashes, ampersands and line breaks so Graphviz reads them literally', () => {
    expect(quote('say "hi"')).toBe('"say \\"hi\\""');
    expect(quote('\\N')).toBe('"\\\\N"');
    expect(quote('&amp;')).toBe('"&amp;amp;"');
    expect(quote('a\r\nb')).toBe('"a\\nb"');
  });

  it('writes text that needs no escaping but its line breaks as the full escaping writes it', () => {
    // An `&` in front takes the full escaping; it changes nothing else unless the text starts with a line break.
    const awkward = fc.constantFrom('\u0000', '\t', '\r', '\u007F', '\uD800', '\uDC00', '\uFFFE', '\uFFFF');
    const anyText = fc.array(fc.oneof(tricky, awkward, fc.string({ unit: 'binary', maxLength: 3 })), { maxLength: 6 })
      .map((parts) => parts.join('')).filter((text) => !/^[\r\n]/.test(text));
    fc.assert(fc.property(anyText, (text) => {
      expect(quote(`&${text}`)).toBe(`"&amp;${quote(text).slice(1)}`);
    }), { numRuns: 500 });
    expect(quote('x\n[2, 3]')).toBe('"x\\n[2, 3]"');
  });

  it('works around Graphviz 16 trapping on a label whose first line is empty', async () => {
    expect(quote('\n\nx')).toBe('"x"');
    await renderSvg('digraph { a }');
    await expect(labelLines('\n')).resolves.toEqual([]);
    await expect(labelLines('\n x')).resolves.toEqual([' x']);
  });
});
