// The softmax family: softmax / logSoftmax along any dimension, and the fused cross-entropy loss.
export { softmax, logSoftmax } from './softmax.js';
export { crossEntropy, type CrossEntropyOptions, type Reduction } from './cross_entropy.js';
