/*
 * The look shared by the picture and its legend, and the DOT syntax both write it in.
 */

/** The font the layout measures text in and the PNG rasteriser draws with (see render.ts). */
export const FONT = 'DejaVu Sans';

import type { Phase, TensorRole } from './trace.js';

export const COLORS = {
  op: { fill: '#dce8f7', line: '#3d6699' },
  backwardOp: { fill: '#fbe1dc', line: '#b04a32' },
  input: { fill: '#d9f0d3', line: '#3f7f33' },
  parameter: { fill: '#ffd866', line: '#9a6a00' },
  buffer: { fill: '#e6dcf2', line: '#6a4c93' },
  intermediate: { fill: '#ffffff', line: '#666666' },
  output: { fill: '#c9dcff', line: '#2f5597' },
  constant: { fill: '#f2f2f2', line: '#999999' },
  backwardTensor: { fill: '#fff4f1', line: '#b04a32' },
  module: { fill: '#eeeeee', line: '#555555' },
  gradient: '#c0392b',
  cluster: '#8a8a8a',
} as const;

/** Any character one of quote()'s replacements touches but a line break: control characters, surrogates, U+FFFE/U+FFFF, `\\`, `"` and `&`. */
const NEEDS_ESCAPING = /[\u0000-\u0009\u000B-\u001F\u007F\uD800-\uDFFF\uFFFE\uFFFF\\"&]/;

/**
 * A DOT double-quoted string that Graphviz shows as exactly `text`: backslashes and quotes
 * escaped, `&` written as an entity (Graphviz decodes entities in plain labels too), line breaks
 * as Graphviz's `\n`, and characters no SVG may contain (control characters, lone surrogates)
 * replaced by visible stand-ins. The text Graphviz draws is `text`'s lines, empty ones excepted.
 */
export function quote(text: string): string {
  // Most labels need no replacement but their line breaks', and a picture of 300,000 nodes asks often.
  if (!NEEDS_ESCAPING.test(text) && text[0] !== '\n') return `"${text.replace(/\n/g, '\\n')}"`;
  const escaped = text
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/\r\n?/g, '\n')
    // Graphviz 16 in WebAssembly traps on a node label whose first line is empty (once anything
    // has been rendered before it). An empty line draws nothing, so leading breaks are dropped.
    .replace(/^\n+/, '')
    // Control Pictures (U+2400 block) show a control character as a symbol: ␀, ␉, ␡.
    .replace(/[\u0000-\u0009\u000B-\u001F]/g, (c) => String.fromCharCode(0x2400 + c.charCodeAt(0)))
    .replace(/\u007F/g, '\u2421')
    .replace(/[\uFFFE\uFFFF]/g, '\uFFFD')
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/&/g, '&amp;')
    .replace(/\n/g, '\\n');
  return `"${escaped}"`;
}

export type Attributes = Readonly<Record<string, string | number | undefined>>;

export function attributeList(attributes: Attributes): string {
  // A loop, not entries/filter/map: written once per node and edge of pictures of 300,000.
  let list = '';
  for (const name of Object.keys(attributes)) {
    const value = attributes[name];
    if (value !== undefined) list += `${list === '' ? '' : ', '}${name}=${typeof value === 'number' ? value : quote(value)}`;
  }
  return list === '' ? '' : ` [${list}]`;
}


/** How a tensor of this role looks: colour, and a line style that still tells roles apart in grey. */
export function tensorLook(role: TensorRole, phase: Phase): Attributes {
  const colors = phase === 'backward' ? COLORS.backwardTensor : COLORS[role];
  const style = role === 'constant' ? 'filled,rounded,dashed'
    : phase === 'backward' ? 'filled,rounded,dashed'
    // Parameters have square corners and a heavy border as well as their colour.
    : role === 'parameter' ? 'filled,bold'
    // Buffers have square corners too, cut diagonally: state of a module, not learned.
    : role === 'buffer' ? 'filled,diagonals'
    : role === 'output' ? 'filled,rounded,bold' : 'filled,rounded';
  return { shape: 'box', style, fillcolor: colors.fill, color: colors.line, fontsize: role === 'constant' ? 9 : undefined };
}

export function opLook(phase: Phase): Attributes {
  const colors = phase === 'backward' ? COLORS.backwardOp : COLORS.op;
  return { shape: 'ellipse', style: 'filled', fillcolor: colors.fill, color: colors.line };
}
