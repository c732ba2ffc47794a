/** The `nn` namespace: modules with PyTorch's names, parameters and state-dict keys. */
export { Module, Sequential, type Layer, type StateDict, type StateValue } from './module.js';
export { Linear } from './linear.js';
export { Conv2d, type Conv2dModuleOptions } from './conv.js';
export { BatchNorm2d, type BatchNorm2dOptions } from './batchnorm.js';
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d } from './pool.js';
export { ReLU, LeakyReLU, GELU, Dropout, Flatten } from './activation.js';
export { LayerNorm, type LayerNormModuleOptions } from './normalization.js';
export { MultiheadAttention, type MultiheadAttentionOptions, type MultiheadAttentionForwardOptions } from './attention.js';
export { GATConv, type GATConvOptions } from './gat.js';
