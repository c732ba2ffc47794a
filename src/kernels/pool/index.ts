/** Pooling over [N, C, H, W]: max, average and adaptive average, each differentiable in its input. */
export { maxPool2d, type MaxPool2dOptions } from './max.js';
export { avgPool2d, type AvgPool2dOptions } from './avg.js';
export { adaptiveAvgPool2d } from './adaptive.js';
export type { IntOrPair, PoolOptions } from './window.js';
