/**
 * Differentiable elementwise ops with PyTorch's semantics and NumPy/PyTorch broadcasting. Binary ops
 * take a Tensor or a number on either side (at least one Tensor); the gradient of a broadcast operand
 * is summed back to its shape.
 */
import { record } from '../../engine/autograd.js';
import { tidy } from '../../engine/scope.js';
import { Tensor } from '../../engine/tensor.js';
import { sumToShape } from '../reduce/index.js';
import { expectFloat32 } from '../checks.js';
import { elementwise, type ElementwiseFn } from './forward.js';

type Operand = Tensor | number;
/** The gradient flowing to one operand before it is summed to the operand's shape. */
type LocalGrad = (grad: Tensor) => Tensor;

function binary(op: string, fn: ElementwiseFn, a: Operand, b: Operand, gradA: LocalGrad, gradB: LocalGrad): Tensor {
  const out = elementwise(fn, a, b, op);
  const inputs = [a, b].filter((t): t is Tensor => t instanceof Tensor);
  return record(out, op, inputs, (grad) =>
    tidy(() => {
      const grads: (Tensor | null)[] = [];
      if (a instanceof Tensor) grads.push(a.requiresGrad ? sumToShape(gradA(grad), a.shape) : null);
      if (b instanceof Tensor) grads.push(b.requiresGrad ? sumToShape(gradB(grad), b.shape) : null);
      return grads;
    }),
  );
}

function unary(op: string, fn: ElementwiseFn, x: Tensor, gradX: (grad: Tensor, out: Tensor) => Tensor): Tensor {
  const out = elementwise(fn, x, 0, op);
  return record(out, op, [x], (grad) => [gradX(grad, out)]);
}

/** A number argument as an error message shows it: strings quoted, so that '0.1' is told from 0.1. */
const shown = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

const times = (f: ElementwiseFn, a: Operand, b: Operand, op: string) => (grad: Tensor) =>
  elementwise('MUL', grad, elementwise(f, a, b, op), op);

export function add(a: Operand, b: Operand): Tensor {
  return binary('add', 'ADD', a, b, (g) => g, (g) => g);
}

export function sub(a: Operand, b: Operand): Tensor {
  return binary('sub', 'SUB', a, b, (g) => g, (g) => elementwise('MUL', g, -1, 'sub backward'));
}

export function mul(a: Operand, b: Operand): Tensor {
  return binary('mul', 'MUL', a, b, (g) => elementwise('MUL', g, b, 'mul backward'), (g) => elementwise('MUL', g, a, 'mul backward'));
}

export function div(a: Operand, b: Operand): Tensor {
  return binary('div', 'DIV', a, b, (g) => elementwise('DIV', g, b, 'div backward'), times('DIV_GRAD_B', a, b, 'div backward'));
}

/** x ** exponent, with PyTorch's values where the real power is undefined (0 ** 0 = 1, negative bases
 *  with integer exponents) and PyTorch's zero gradients where the formula gives NaN. */
export function pow(x: Tensor, exponent: Operand): Tensor {
  return binary('pow', 'POW', x, exponent, times('POW_GRAD_BASE', x, exponent, 'pow backward'), times('POW_GRAD_EXP', x, exponent, 'pow backward'));
}

export function neg(x: Tensor): Tensor {
  const negate = (g: Tensor) => elementwise('MUL', g, -1, 'neg backward');
  return binary('neg', 'MUL', x, -1, negate, negate);
}

export function exp(x: Tensor): Tensor {
  return unary('exp', 'EXP', x, (g, y) => elementwise('MUL', g, y, 'exp backward'));
}

export function log(x: Tensor): Tensor {
  return unary('log', 'LOG', x, (g) => elementwise('DIV', g, x, 'log backward'));
}

export function sqrt(x: Tensor): Tensor {
  return unary('sqrt', 'SQRT', x, (g, y) => elementwise('SQRT_GRAD', g, y, 'sqrt backward'));
}

export function relu(x: Tensor): Tensor {
  return unary('relu', 'RELU', x, reluBackward);
}

/** The gradient through a ReLU from its output y: grad where y > 0, else 0. Not recorded. */
export function reluBackward(grad: Tensor, y: Tensor): Tensor {
  return elementwise('RELU_GRAD', grad, y, 'relu backward');
}

export function sigmoid(x: Tensor): Tensor {
  return unary('sigmoid', 'SIGMOID', x, (g, y) => elementwise('SIGMOID_GRAD', g, y, 'sigmoid backward'));
}

export function tanh(x: Tensor): Tensor {
  return unary('tanh', 'TANH', x, (g, y) => elementwise('TANH_GRAD', g, y, 'tanh backward'));
}

/** The error function, as torch.erf (about one ulp: max |error| 6e-8). */
export function erf(x: Tensor): Tensor {
  return unary('erf', 'ERF', x, (g) => elementwise('ERF_GRAD', g, x, 'erf backward'));
}

export interface GeluOptions {
  /** 'none' (default): x * Phi(x) with the exact erf; 'tanh': PyTorch's tanh approximation. */
  approximate?: 'none' | 'tanh';
}

/** GELU, as torch.nn.functional.gelu: x * Phi(x), Phi the standard normal CDF (erf to about one ulp),
 *  or its tanh approximation. */
export function gelu(x: Tensor, { approximate = 'none' }: GeluOptions = {}): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new Error(`gelu: approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
  }
  const [fn, gradFn]: ElementwiseFn[] = approximate === 'tanh' ? ['GELU_TANH', 'GELU_TANH_GRAD'] : ['GELU', 'GELU_GRAD'];
  return unary('gelu', fn, x, (g) => elementwise(gradFn, g, x, 'gelu backward'));
}

/** Leaky ReLU, as torch.nn.functional.leaky_relu: x where x > 0, else negativeSlope * x. The gradient
 *  at x == 0 is negativeSlope, as PyTorch's. */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  expectFloat32('leakyRelu', 'input', x);
  if (typeof negativeSlope !== 'number' || !Number.isFinite(negativeSlope)) {
    throw new Error(`leakyRelu: negativeSlope must be a finite number, got ${shown(negativeSlope)}`);
  }
  const args = [negativeSlope, 0] as const;
  const out = elementwise('LEAKY_RELU', x, 0, 'leakyRelu', args);
  return record(out, 'leakyRelu', [x], (grad) => [elementwise('LEAKY_RELU_GRAD', grad, x, 'leakyRelu backward', args)]);
}

export interface ClampOptions {
  /** Lower bound; none when omitted. */
  min?: number;
  /** Upper bound; none when omitted. */
  max?: number;
}

/** torch.clamp with number bounds (at least one, min <= max): values below min become min, above max
 *  max; NaN stays NaN. The gradient passes where min <= x <= max (bounds included, as PyTorch's), 0
 *  elsewhere. */
export function clamp(x: Tensor, { min, max }: ClampOptions = {}): Tensor {
  expectFloat32('clamp', 'input', x);
  for (const [name, bound] of [['min', min], ['max', max]] as const) {
    if (bound !== undefined && (typeof bound !== 'number' || Number.isNaN(bound))) {
      throw new Error(`clamp: ${name} must be a number, got ${shown(bound)}`);
    }
  }
  if (min === undefined && max === undefined) throw new Error('clamp: expected at least one of min and max, got neither');
  if (min !== undefined && max !== undefined && min > max) throw new Error(`clamp: min ${min} is greater than max ${max}`);
  const args = [min ?? -Infinity, max ?? Infinity] as const;
  const out = elementwise('CLAMP', x, 0, 'clamp', args);
  return record(out, 'clamp', [x], (grad) => [elementwise('CLAMP_GRAD', grad, x, 'clamp backward', args)]);
}
