import type { ExplorerData, ExplorerTensor } from '../data.js';
import type { ValueSnapshot } from '../../trace.js';
import { describeOp, describeStep, grid, heatColor, progress, stepLights, summaryLine, tableCells, tensorHeading, valuesView } from './logic.js';

/*
 * The explorer page: the graph's SVG (drawn by Graphviz when the page was written) with pan
 * and zoom, a panel for the tensor or op under the pointer, the step control, and module boxes
 * that fold on click. Everything it shows comes from the JSON in #gradgraph-data.
 */

const data = JSON.parse(document.getElementById('gradgraph-data')!.textContent!) as ExplorerData;
const svg = document.querySelector<SVGSVGElement>('#viewport svg')!;
const panel = document.getElementById('panel')!;
const slider = document.getElementById('step-slider') as HTMLInputElement;
const stepLabel = document.getElementById('step-label')!;

// ---- The SVG's parts by trace key: Graphviz writes each key as the <title> of its group. ----

const nodes = new Map<string, SVGGElement>();
const edges = new Map<string, SVGGElement>();
const gradientEdges = new Map<string, SVGGElement>();
for (const group of svg.querySelectorAll<SVGGElement>('g.node, g.edge')) {
  const key = group.querySelector('title')?.textContent ?? '';
  group.dataset.key = key;
  if (group.classList.contains('node')) nodes.set(key, group);
  // The gradient edges come after the forward ones and share their `from->to` title.
  else if (edges.has(key) || key.endsWith('_upstream')) gradientEdges.set(key, group);
  else edges.set(key, group);
}
for (const [key, group] of gradientEdges) group.classList.add(key.endsWith('_upstream') ? 'seed-edge' : 'gradient-edge');

// ---- Pan and zoom, by moving the viewBox. ----

const base = svg.viewBox.baseVal;
const home = { x: base.x, y: base.y, width: base.width, height: base.height };
svg.removeAttribute('width');
svg.removeAttribute('height');
let view = { ...home };
function applyView(): void {
  svg.setAttribute('viewBox', `${view.x} ${view.y} ${view.width} ${view.height}`);
}
function toGraph(clientX: number, clientY: number): { x: number; y: number } {
  const box = svg.getBoundingClientRect();
  // preserveAspectRatio meet: the scale that fits the whole viewBox, centred.
  const scale = Math.min(box.width / view.width, box.height / view.height);
  const left = box.left + (box.width - view.width * scale) / 2;
  const top = box.top + (box.height - view.height * scale) / 2;
  return { x: view.x + (clientX - left) / scale, y: view.y + (clientY - top) / scale };
}
function zoom(factor: number, clientX?: number, clientY?: number): void {
  const box = svg.getBoundingClientRect();
  const at = toGraph(clientX ?? box.left + box.width / 2, clientY ?? box.top + box.height / 2);
  const width = Math.min(home.width * 20, Math.max(home.width / 50, view.width / factor));
  const ratio = width / view.width;
  view = { x: at.x - (at.x - view.x) * ratio, y: at.y - (at.y - view.y) * ratio, width, height: view.height * ratio };
  applyView();
}
svg.addEventListener('wheel', (event) => {
  event.preventDefault();
  zoom(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX, event.clientY);
}, { passive: false });
let drag: { x: number; y: number; moved: boolean } | null = null;
svg.addEventListener('pointerdown', (event) => {
  drag = { x: event.clientX, y: event.clientY, moved: false };
});
window.addEventListener('pointermove', (event) => {
  if (!drag) return;
  const from = toGraph(drag.x, drag.y);
  const to = toGraph(event.clientX, event.clientY);
  if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) > 3) drag.moved = true;
  if (!drag.moved) return;
  view.x -= to.x - from.x;
  view.y -= to.y - from.y;
  drag.x = event.clientX;
  drag.y = event.clientY;
  applyView();
});
window.addEventListener('pointerup', () => {
  // A click after a drag is not a click on what the pointer ended over.
  setTimeout(() => {
    drag = null;
  }, 0);
});
document.getElementById('zoom-in')!.addEventListener('click', () => zoom(1.25));
document.getElementById('zoom-out')!.addEventListener('click', () => zoom(1 / 1.25));
document.getElementById('zoom-fit')!.addEventListener('click', () => {
  view = { ...home };
  applyView();
});

// ---- The panel: a tensor's values and gradient, an op's local gradients, a step. ----

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  if (className !== '') made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

/** A table of numbers for a small tensor, a heatmap for a larger one, its summary otherwise. */
function valuesBlock(caption: string, snapshot: ValueSnapshot, shape: readonly number[], kind: string): HTMLElement {
  const block = element('section', `values ${kind}`);
  block.append(element('h3', '', caption), element('p', 'summary', summaryLine(snapshot)));
  const how = valuesView(snapshot);
  block.dataset.view = how;
  if (how === 'table') {
    const table = element('table', '');
    for (const row of tableCells(snapshot.values!, shape)) {
      const tr = element('tr', '');
      for (const cell of row) tr.append(element('td', '', cell));
      table.append(tr);
    }
    block.append(table);
  } else if (how === 'heatmap') {
    const values = snapshot.values!;
    const { rows, columns } = grid(shape);
    let largest = 0;
    for (const v of values) if (Number.isFinite(v)) largest = Math.max(largest, Math.abs(v));
    const canvas = element('canvas', 'heatmap');
    canvas.width = columns;
    canvas.height = rows;
    canvas.title = `${rows} × ${columns}, blue < 0 < red, |max| ${largest.toPrecision(3)}`;
    const context = canvas.getContext('2d')!;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) {
        context.fillStyle = heatColor(values[r * columns + c], largest);
        context.fillRect(c, r, 1, 1);
      }
    }
    block.append(canvas);
  } else {
    block.append(element('p', 'note', 'Only the summary was kept for a tensor this large (valuesLimit).'));
  }
  return block;
}

function showTensor(t: ExplorerTensor): void {
  panel.replaceChildren(element('h2', '', tensorHeading(data, t)));
  panel.dataset.showing = t.key;
  if (t.scope.length > 0) panel.append(element('p', 'scope', `in ${t.scope.join(' › ')}`));
  panel.append(valuesBlock('value', t.value, t.shape, 'value'));
  if (t.grad) panel.append(valuesBlock('gradient ∂L/∂' + t.label, t.grad, t.shape, 'gradient'));
  else if (t.requiresGrad) panel.append(element('p', 'note', 'No gradient: run backward with { retainGrads: true } before toHtml to see it.'));
}

function showOp(key: string): void {
  const { heading, lines, formulas } = describeOp(data, key);
  panel.replaceChildren(element('h2', '', heading));
  panel.dataset.showing = key;
  for (const line of lines) panel.append(element('p', '', line));
  const list = element('section', 'formulas');
  list.append(element('h3', '', 'local gradients'));
  for (const formula of formulas) list.append(element('p', 'formula', formula));
  if (formulas.length === 0) list.append(element('p', 'note', 'none of its inputs needs a gradient'));
  panel.append(list);
  for (const input of data.ops[key].inputs) {
    const t = data.tensors[input.tensor];
    if (input.gradient) panel.append(valuesBlock(`passed back to ${t.label}`, input.gradient, t.shape, 'gradient'));
  }
}

function showStep(index: number): void {
  const { heading, lines, tensor, values, valuesCaption } = describeStep(data, index);
  const step = data.steps[index];
  panel.replaceChildren(element('h2', '', heading));
  panel.dataset.showing = `step ${index + 1}`;
  for (const line of lines) panel.append(element('p', 'step-line', line));
  const shape = data.tensors[tensor].shape;
  if (values) panel.append(valuesBlock(valuesCaption, values, shape, step.kind === 'forward' ? 'value' : 'gradient'));
  if (step.kind === 'backward' && step.parts > 1 && step.runningSum) {
    panel.append(valuesBlock(`running sum, ${step.part} of ${step.parts} parts`, step.runningSum, shape, 'running-sum'));
  }
}

let pinned: (() => void) | null = null;
function hoverOrClick(group: SVGGElement, show: () => void): void {
  group.addEventListener('mouseenter', () => {
    if (!pinned) show();
  });
  group.addEventListener('click', (event) => {
    if (drag?.moved) return;
    event.stopPropagation();
    pinned = show;
    show();
    for (const other of svg.querySelectorAll('.selected')) other.classList.remove('selected');
    group.classList.add('selected');
  });
}
for (const [key, group] of nodes) {
  if (data.tensors[key]) hoverOrClick(group, () => showTensor(data.tensors[key]));
  else if (data.ops[key]) hoverOrClick(group, () => showOp(key));
}

// ---- The step control: forward in order, then backward in reverse. ----

let current = -1;
function setStep(index: number): void {
  current = Math.max(-1, Math.min(data.steps.length - 1, index));
  slider.value = String(current + 1);
  document.body.dataset.step = String(current + 1);
  for (const lit of svg.querySelectorAll('.lit, .future, .computed, .graded')) lit.classList.remove('lit', 'future', 'computed', 'graded');
  svg.classList.toggle('stepping', current >= 0);
  if (current < 0) {
    stepLabel.textContent = `${data.steps.length} steps: forward, then backward`;
    pinned = null;
    panel.replaceChildren(element('p', 'note', 'Hover or click a tensor or an op; step through with ◀ ▶ or the arrow keys.'));
    panel.dataset.showing = '';
    return;
  }
  const step = data.steps[current];
  const { computed, graded } = progress(data, current);
  for (const [key, group] of nodes) {
    if (data.tensors[key] && !computed.has(key)) group.classList.add('future');
    if (data.ops[key] && !data.steps.slice(0, current + 1).some((s) => s.kind === 'forward' && s.op === key)) group.classList.add('future');
    if (graded.has(key)) group.classList.add('graded');
    // The upstream gradient appears when the backward pass starts from it.
    const seeded = data.steps.slice(0, current + 1).some((s) => s.kind === 'seed' && `${s.tensor}_upstream` === key);
    if (key.endsWith('_upstream') && !seeded) group.classList.add('future');
  }
  for (const [key, group] of edges) {
    const [from, to] = key.split('->');
    if (nodes.get(from)?.classList.contains('future') || nodes.get(to)?.classList.contains('future')) group.classList.add('future');
  }
  for (const [key, group] of gradientEdges) {
    const [from, to] = key.split('->');
    const carried = data.steps.slice(0, current + 1).some((s) => (s.kind === 'backward' && s.tensor === from && s.op === to) || (s.kind === 'seed' && `${s.tensor}_upstream` === to));
    if (!carried) group.classList.add('future');
  }
  const lights = stepLights(data, step);
  for (const key of lights.nodes) nodes.get(key)?.classList.add('lit');
  for (const key of lights.edges) edges.get(key)?.classList.add('lit');
  for (const key of lights.gradientEdges) gradientEdges.get(key)?.classList.add('lit');
  stepLabel.textContent = describeStep(data, current).heading;
  pinned = null;
  showStep(current);
}
slider.max = String(data.steps.length);
slider.addEventListener('input', () => setStep(Number(slider.value) - 1));
document.getElementById('step-first')!.addEventListener('click', () => setStep(-1));
document.getElementById('step-back')!.addEventListener('click', () => setStep(current - 1));
document.getElementById('step-next')!.addEventListener('click', () => setStep(current + 1));
document.getElementById('step-last')!.addEventListener('click', () => setStep(data.steps.length - 1));
window.addEventListener('keydown', (event) => {
  if (event.target instanceof HTMLInputElement && event.target !== slider) return;
  const moves: Record<string, () => void> = {
    ArrowRight: () => setStep(current + 1),
    ArrowLeft: () => setStep(current - 1),
    Home: () => setStep(-1),
    End: () => setStep(data.steps.length - 1),
    '+': () => zoom(1.25),
    '=': () => zoom(1.25),
    '-': () => zoom(1 / 1.25),
  };
  const move = moves[event.key];
  if (!move) return;
  event.preventDefault();
  move();
});

// ---- Module boxes fold on click: the box covers what it holds, which is hidden. ----

interface ModuleBox {
  readonly scope: readonly string[];
  readonly group: SVGGElement;
  readonly cover: SVGGElement;
  readonly members: readonly SVGGElement[];
}

/**
 * Which cluster draws which scope: the smallest cluster labelled with the scope's own name that
 * holds every node of the scope. Graphviz numbers clusters by itself, so geometry decides.
 */
function moduleBoxes(): ModuleBox[] {
  const scopes = new Map<string, readonly string[]>();
  const all = [...Object.values(data.tensors), ...Object.values(data.ops)];
  for (const item of all) for (let depth = 1; depth <= item.scope.length; depth++) scopes.set(JSON.stringify(item.scope.slice(0, depth)), item.scope.slice(0, depth));
  const clusters = [...svg.querySelectorAll<SVGGElement>('g.cluster')].map((group) => ({ group, box: group.getBBox(), label: group.querySelector('text')?.textContent ?? '' }));
  const inside = (outer: DOMRect, inner: DOMRect) => inner.x >= outer.x - 1 && inner.y >= outer.y - 1 && inner.x + inner.width <= outer.x + outer.width + 1 && inner.y + inner.height <= outer.y + outer.height + 1;
  const boxes: ModuleBox[] = [];
  for (const scope of scopes.values()) {
    const prefix = JSON.stringify(scope).slice(0, -1);
    const memberKeys = all.filter((item) => JSON.stringify(item.scope).startsWith(prefix) && item.scope.length >= scope.length && JSON.stringify(item.scope.slice(0, scope.length)) === JSON.stringify(scope)).map((item) => item.key);
    const members = memberKeys.flatMap((key) => (nodes.has(key) ? [nodes.get(key)!] : []));
    if (members.length === 0) continue;
    const candidates = clusters.filter((c) => c.label === scope[scope.length - 1] && members.every((m) => inside(c.box, m.getBBox())));
    candidates.sort((a, b) => a.box.width * a.box.height - b.box.width * b.box.height);
    const chosen = candidates[0];
    if (!chosen) continue;
    const ops = memberKeys.filter((key) => data.ops[key]).length;
    const cover = document.createElementNS('http://www.w3.org/2000/svg', 'g');
    cover.setAttribute('class', 'module-cover');
    const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    for (const [name, value] of Object.entries({ x: chosen.box.x, y: chosen.box.y, width: chosen.box.width, height: chosen.box.height, rx: 6 })) rect.setAttribute(name, String(value));
    const text = document.createElementNS('http://www.w3.org/2000/svg', 'text');
    text.setAttribute('x', String(chosen.box.x + chosen.box.width / 2));
    text.setAttribute('y', String(chosen.box.y + chosen.box.height / 2));
    text.setAttribute('text-anchor', 'middle');
    text.textContent = `${scope[scope.length - 1]} (${ops} ${ops === 1 ? 'op' : 'ops'}) ⊕`;
    cover.append(rect, text);
    chosen.group.parentNode!.append(cover);
    chosen.group.dataset.scope = scope.join(' › ');
    boxes.push({ scope, group: chosen.group, cover, members });
  }
  return boxes;
}

const folded = new Set<ModuleBox>();
function refold(): void {
  const hidden = new Set<SVGGElement>();
  for (const box of folded) for (const member of box.members) hidden.add(member);
  for (const group of nodes.values()) group.classList.toggle('folded', hidden.has(group));
  const hiddenKeys = new Set([...hidden].map((group) => group.dataset.key));
  for (const group of [...edges.values(), ...gradientEdges.values()]) {
    const [from, to] = (group.dataset.key ?? '').split('->');
    group.classList.toggle('folded', hiddenKeys.has(from) && hiddenKeys.has(to));
  }
  // An outer box folded hides the boxes inside it too.
  for (const box of boxes) {
    const open = !folded.has(box);
    const insideFolded = [...folded].some((other) => other !== box && other.scope.length < box.scope.length && other.scope.every((name, i) => box.scope[i] === name));
    box.cover.classList.toggle('shown', !open && !insideFolded);
    box.group.classList.toggle('folded', insideFolded);
    box.group.classList.toggle('is-folded', !open);
  }
}
const boxes = moduleBoxes();
for (const box of boxes) {
  const toggle = (event: Event) => {
    if (drag?.moved) return;
    event.stopPropagation();
    if (folded.has(box)) folded.delete(box);
    else folded.add(box);
    refold();
  };
  // The box's frame and title fold it; its cover unfolds it.
  box.group.addEventListener('click', toggle);
  box.cover.addEventListener('click', toggle);
}

svg.addEventListener('click', () => {
  if (drag?.moved) return;
  pinned = null;
  for (const other of svg.querySelectorAll('.selected')) other.classList.remove('selected');
});

applyView();
setStep(-1);
document.body.dataset.ready = 'true';
