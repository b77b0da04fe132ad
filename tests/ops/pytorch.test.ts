import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as gg from 'gradgraph';
import type { Tensor } from 'gradgraph';

/*
 * Values and gradients against PyTorch's, from tests/fixtures/ops-fixtures.json, which
 * tests/fixtures/make-ops-fixtures.py wrote with torch in float64. Each case calls the op as a
 * PyTorch user would write it here, seeds each output with the fixture's upstream gradient and
 * compares the gradient of every differentiable input.
 */

interface Encoded { shape: number[]; values: (number | string)[] }
interface Case { op: string; args: Record<string, unknown>; inputs: Encoded[]; outputs: Encoded[]; upstream: Encoded[]; grads: (Encoded | null)[] }

const fixture = JSON.parse(readFileSync(new URL('../fixtures/ops-fixtures.json', import.meta.url), 'utf8')) as { torch: string; cases: Case[] };

const decode = ({ shape, values }: Encoded, requiresGrad = false) =>
  gg.tensor(Float64Array.from(values, Number), { shape, requiresGrad });

type Args = Record<string, never>;
/** How each fixture op is called in gradgraph; keys match the OPS table of the Python script. */
const calls: Record<string, (x: Tensor[], a: Args) => Tensor | Tensor[]> = {
  min: ([x], a) => gg.min(x, a.axis ?? undefined, { keepdims: a.keepdims }),
  max: ([x], a) => gg.max(x, a.axis ?? undefined, { keepdims: a.keepdims }),
  argmax: ([x], a) => gg.argmax(x, a.axis ?? undefined),
  argmin: ([x], a) => gg.argmin(x, a.axis ?? undefined),
  variance: ([x], a) => gg.variance(x, a.axis ?? undefined, { correction: a.correction, keepdims: a.keepdims }),
  std: ([x], a) => x.std(a.axis ?? undefined, { correction: a.correction, keepdims: a.keepdims }),
  logsumexp: ([x], a) => gg.logsumexp(x, a.axis ?? undefined, { keepdims: a.keepdims }),
  softmax: ([x], a) => gg.softmax(x, a.axis),
  logSoftmax: ([x], a) => x.logSoftmax(a.axis),
  crossEntropy: ([x, t], a) => gg.crossEntropy(x, t, { reduction: a.reduction }),
  nllLoss: ([x, t], a) => gg.nllLoss(x, t, { reduction: a.reduction }),
  clamp: ([x], a) => gg.clamp(x, a.min, a.max),
  minimum: ([x, y]) => gg.minimum(x, y),
  maximum: ([x, y]) => x.maximum(y),
  where: ([c, x, y]) => gg.where(c, x, y),
  sign: ([x]) => gg.sign(x),
  relu: ([x]) => gg.relu(x),
  sin: ([x]) => x.sin(),
  cos: ([x]) => gg.cos(x),
  log1p: ([x]) => gg.log1p(x),
  expm1: ([x]) => gg.expm1(x),
  reciprocal: ([x]) => x.reciprocal(),
  rsqrt: ([x]) => gg.rsqrt(x),
  erf: ([x]) => gg.erf(x),
  leakyRelu: ([x], a) => gg.leakyRelu(x, a.negativeSlope),
  gelu: ([x]) => gg.gelu(x),
  elu: ([x], a) => gg.elu(x, a.alpha),
  softplus: ([x]) => x.softplus(),
  cat: (xs, a) => gg.cat(xs, a.axis),
  stack: (xs, a) => gg.stack(xs, a.axis),
  split: ([x], a) => x.split(a.sizes, a.axis),
  narrow: ([x], a) => gg.narrow(x, a.axis, a.start, a.length),
  gather: ([x, index], a) => x.gather(a.axis, index),
  squeeze: ([x], a) => gg.squeeze(x, a.axis ?? undefined),
  unsqueeze: ([x], a) => x.unsqueeze(a.axis),
  flatten: ([x], a) => gg.flatten(x, a.startAxis, a.endAxis),
  permute: ([x], a) => x.permute(a.axes),
  transpose: ([x], a) => x.transpose(a.axis0, a.axis1),
  clone: ([x]) => gg.clone(x),
  dot: ([x, y]) => gg.dot(x, y),
  matmul: ([x, y]) => x.matmul(y),
};

/** Agreement to 1e-12 of the larger of |expected| and 1 (a few ulps of float64 after a few operations). */
function expectClose(actual: Tensor, expected: Encoded, what: string) {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  expected.values.forEach((value, i) => {
    const e = Number(value);
    const a = actual.data[i];
    if (Number.isNaN(e)) return expect(a, `${what}[${i}]`).toBeNaN();
    if (!Number.isFinite(e)) return expect(a, `${what}[${i}]`).toBe(e);
    expect(Math.abs(a - e), `${what}[${i}]: got ${a}, PyTorch ${e}`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(e)));
  });
}

describe(`values and gradients agree with PyTorch ${fixture.torch}`, () => {
  it('covers every op of the Python script', () => {
    expect(new Set(fixture.cases.map((c) => c.op))).toEqual(new Set(Object.keys(calls)));
  });

  it.each(fixture.cases.map((c, i) => [`${c.op} ${JSON.stringify(c.args)} #${i}`, c] as const))('%s', (_title, c) => {
    const inputs = c.inputs.map((input, i) => decode(input, c.grads[i] !== null));
    const result = calls[c.op](inputs, c.args as Args);
    const outputs = Array.isArray(result) ? result : [result];
    expect(outputs.length).toBe(c.outputs.length);
    outputs.forEach((output, i) => expectClose(output, c.outputs[i], `output ${i}`));
    const wanted = inputs.filter((_, i) => c.grads[i] !== null);
    if (wanted.length === 0) return;
    const grads = gg.grad(outputs, wanted, { gradOutputs: c.upstream.map((u) => decode(u)) });
    c.grads.filter((g) => g !== null).forEach((g, i) => expectClose(grads[i], g, `gradient of input ${i}`));
  });
});
