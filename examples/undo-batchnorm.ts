/**
 * The blog post's derivation, computed: with γ = √(σ² + ε) and β = μ, the batch's own standard
 * deviation and mean, batch norm gives back x itself.
 *
 *   npx tsx examples/undo-batchnorm.ts
 */
import { batchNorm, batchNormFused, noGrad, randn, tensor } from 'gradgraph';
import { claim, format } from './lib/training.js';

const eps = 1e-5;
// A batch of 8 examples with 3 features on very different scales and offsets.
const scales = [2, 0.5, 10];
const offsets = [5, -3, 100];
const noise = randn([8, 3], { seed: 42 });
const x = tensor(noise.data.map((v, i) => v * scales[i % 3] + offsets[i % 3]), { shape: [8, 3] });

const { gamma, beta } = noGrad(() => {
  const mean = x.mean(0);
  const variance = x.sub(mean).square().mean(0);
  return { gamma: variance.add(eps).sqrt(), beta: mean };
});

console.log('feature  γ = √(σ² + ε)       β = μ');
for (let d = 0; d < 3; d++) console.log(`${String(d).padStart(7)}  ${format(gamma.data[d], 6, 13)}  ${format(beta.data[d], 6, 10)}`);

const maxError = (y: typeof x) => Math.max(...y.data.map((v, i) => Math.abs(v - x.data[i])));
const explicitError = maxError(batchNorm(x, gamma, beta, { eps }));
const fusedError = maxError(batchNormFused(x, gamma, beta, { eps }));
console.log(`max |BN(x) − x|: explicit graph ${explicitError.toExponential(2)}, fused ${fusedError.toExponential(2)} (x goes up to ${Math.max(...x.data.map(Math.abs)).toFixed(1)})`);

claim('batch norm with γ = √(σ² + ε), β = μ returns x (max error below 1e-12)', explicitError < 1e-12 && fusedError < 1e-12);
