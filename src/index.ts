/**
 * pcnn-webgpu: a WebGPU tensor engine (handwritten WGSL kernels, tape autograd) and PCNN on it.
 * Names follow PyTorch in camelCase: `conv2d`, `batchNorm2d`, `gridSample`, `nn.Conv2d`, `optim.SGD`.
 */
export { init, release, gpu, type Gpu, type AdapterDescription } from './engine/device.js';
export { Tensor, tensor, empty, zeros, ones, full, randn, rand, upload, type DType, type TensorData, type TensorOptions } from './engine/tensor.js';
export { tidy, keep } from './engine/scope.js';
export { noGrad, isGradEnabled } from './engine/autograd.js';
export { flush } from './engine/recorder.js';
export { pool, type PoolStats } from './engine/pool.js';
export { Generator, manualSeed } from './engine/random.js';

export { add, sub, mul, div, neg, exp, log, sqrt, pow, relu, leakyRelu, clamp, sigmoid, tanh, erf, gelu, type GeluOptions, type ClampOptions } from './kernels/elementwise/index.js';
export { sum, mean, max } from './kernels/reduce/index.js';
export { reshape, permute, transpose, narrow, cat, pad, flatten } from './kernels/shape/index.js';
export { matmul, linear } from './kernels/matmul/index.js';
export { softmax, logSoftmax, crossEntropy } from './kernels/softmax/index.js';
export { dropout, type DropoutOptions } from './kernels/elementwise/dropout.js';
export { scaledDotProductAttention, type AttentionOptions } from './kernels/attention/index.js';
export { conv2d, conv2dFused, foldBatchNorm } from './kernels/conv2d/index.js';
export { batchNorm2d } from './kernels/batchnorm/index.js';
export { layerNorm, type LayerNormOptions } from './kernels/norm/index.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d } from './kernels/pool/index.js';
export { interpolate, affineGrid, gridSample } from './kernels/resample/index.js';
export { multiDomainFusion } from './kernels/fusion/index.js';
export { graphAttention, attentionGraph, readEdgeIndex, AttentionGraph, type EdgeIndex, type GraphOptions, type GraphAttentionOptions } from './kernels/graph/index.js';

export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export { encodeSafetensors, decodeSafetensors } from './engine/io/safetensors.js';

export { PCNN, type PCNNConfig, type PCNNOutput, type PCNNInternals } from './pcnn/model.js';
export { pcnnLoss, type PCNNLossOptions } from './pcnn/loss.js';
export { cropBoxes } from './pcnn/geometry.js';
export { FERAtt, type FERAttConfig, type FERAttOutput } from './feratt/model.js';
export { ferattLoss, dgmmLoss, attentionLoss, gmmAccuracy, type FERAttLossTerms, type FERAttLossOptions, type AttentionLossOptions } from './feratt/loss.js';
export { ferattSize, type FERAttSize } from './feratt/info.js';
export { ARPGNet, type ARPGNetOutput } from './arpgnet/model.js';
export { type ARPGNetConfig, type ARPGNetOptions } from './arpgnet/config.js';
export {
  arpgnetAttention, attentionStroke, undirectedAttention,
  type ARPGNetAttention, type ClipAttention, type EdgesWithLoops, type UndirectedAttention,
} from './arpgnet/attention.js';
