import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, SGD, Sequential, conv2d, crossEntropy, maxPool2d, randn, tensor, type Tensor } from '../src/index.js';
import { measure, ms, printTable } from './harness.js';

/*
 * Convolution and pooling at the size of a small digit CNN: 28×28 images in batches of 64,
 * forward and backward, and whole training steps of Conv2d(1, 8, 3) → BatchNorm2d → ReLU →
 * MaxPool2d(2) → Linear(1568, 10) with the explicit and the fused BN.
 */

/** Labels for a batch of `batch` images: 0, 1, ..., 9, 0, 1, ... */
export const cnnLabels = (batch: number) => tensor(Array.from({ length: batch }, (_, i) => i % 10));

/**
 * A training step (SGD, lr 0.01, cross-entropy) of Conv2d(1, 8, 3, padding 1) → BatchNorm2d →
 * ReLU → MaxPool2d(2) → Flatten → Linear(1568, 10) on `images` [N, 1, 28, 28]: the model of the
 * conv section and of the PyTorch comparison (bench/torch_peer.py's cnn case).
 */
export function cnnStep(fused: boolean, images: Tensor): () => void {
  const labels = cnnLabels(images.shape[0]);
  const model = new Sequential([
    new Conv2d(1, 8, 3, { padding: 1, seed: 1 }), new BatchNorm2d(8, { fused }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(8 * 14 * 14, 10, { seed: 2 }),
  ]);
  const optimizer = new SGD(model.parameters(), { lr: 0.01 });
  return () => {
    optimizer.zeroGrad();
    crossEntropy(model.call(images), labels).backward();
    optimizer.step();
  };
}

export function benchConv(): void {
  const batch = 64;
  const images = randn([batch, 1, 28, 28], { seed: 1 });
  const weight = randn([8, 1, 3, 3], { seed: 2, requiresGrad: true });
  const bias = randn([8], { seed: 3, requiresGrad: true });
  const features = randn([batch, 8, 28, 28], { seed: 4, requiresGrad: true });
  const forwardBackward = (fn: () => Tensor) => () => {
    const y = fn();
    y.backward(y);
  };
  const [conv, pool] = measure([
    { name: 'conv2d', run: forwardBackward(() => conv2d(images, weight, bias, { padding: 1 })) },
    { name: 'maxPool2d', run: forwardBackward(() => maxPool2d(features, 2)) },
  ], { rounds: 30, warmup: 3 });

  const [explicit, fused] = measure([
    { name: 'explicit BN', run: cnnStep(false, images) },
    { name: 'fused BN', run: cnnStep(true, images) },
  ], { rounds: 20, warmup: 3 });
  printTable(`Convolution, pooling and CNN training steps (batches of ${batch} 28×28 images, float64)`, [
    ['case', 'ms', 'images per second'],
    ['conv2d 1→8, 3×3, padding 1: forward + backward', ms(conv.medianMs), (1000 * batch / conv.medianMs).toFixed(0)],
    ['maxPool2d 2×2 of 8 channels: forward + backward', ms(pool.medianMs), (1000 * batch / pool.medianMs).toFixed(0)],
    ['training step, Conv2d → BatchNorm2d → ReLU → MaxPool2d → Linear', ms(explicit.medianMs), (1000 * batch / explicit.medianMs).toFixed(0)],
    ['the same with BatchNorm2d({ fused: true })', ms(fused.medianMs), (1000 * batch / fused.medianMs).toFixed(0)],
  ]);
}
