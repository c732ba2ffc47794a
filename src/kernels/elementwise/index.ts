/**
 * Differentiable elementwise ops with PyTorch's semantics and NumPy/PyTorch broadcasting. Binary ops
 * take a Tensor or a number on either side (at least one Tensor); the gradient of a broadcast operand
 * is summed back to its shape.
 */
import { record } from '../../engine/autograd.js';
import { tidy } from '../../engine/scope.js';
import { Tensor } from '../../engine/tensor.js';
import { sumToShape } from '../reduce/index.js';
import { Fn, elementwise, type FnCode } from './forward.js';

export { broadcastShapes } from './forward.js';

type Operand = Tensor | number;
/** The gradient flowing to one operand before it is summed to the operand's shape. */
type LocalGrad = (grad: Tensor) => Tensor;

function binary(op: string, fn: FnCode, a: Operand, b: Operand, gradA: LocalGrad, gradB: LocalGrad): Tensor {
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

function unary(op: string, fn: FnCode, x: Tensor, gradX: (grad: Tensor, out: Tensor) => Tensor): Tensor {
  const out = elementwise(fn, x, 0, op);
  return record(out, op, [x], (grad) => [gradX(grad, out)]);
}

const times = (f: FnCode, a: Operand, b: Operand, op: string) => (grad: Tensor) =>
  elementwise(Fn.MUL, grad, elementwise(f, a, b, op), op);

export function add(a: Operand, b: Operand): Tensor {
  return binary('add', Fn.ADD, a, b, (g) => g, (g) => g);
}

export function sub(a: Operand, b: Operand): Tensor {
  return binary('sub', Fn.SUB, a, b, (g) => g, (g) => elementwise(Fn.MUL, g, -1, 'sub backward'));
}

export function mul(a: Operand, b: Operand): Tensor {
  return binary('mul', Fn.MUL, a, b, (g) => elementwise(Fn.MUL, g, b, 'mul backward'), (g) => elementwise(Fn.MUL, g, a, 'mul backward'));
}

export function div(a: Operand, b: Operand): Tensor {
  return binary('div', Fn.DIV, a, b, (g) => elementwise(Fn.DIV, g, b, 'div backward'), times(Fn.DIV_GRAD_B, a, b, 'div backward'));
}

/** x ** exponent, with PyTorch's values where the real power is undefined (0 ** 0 = 1, negative bases
 *  with integer exponents) and PyTorch's zero gradients where the formula gives NaN. */
export function pow(x: Tensor, exponent: Operand): Tensor {
  return binary('pow', Fn.POW, x, exponent, times(Fn.POW_GRAD_BASE, x, exponent, 'pow backward'), times(Fn.POW_GRAD_EXP, x, exponent, 'pow backward'));
}

export function neg(x: Tensor): Tensor {
  const negate = (g: Tensor) => elementwise(Fn.MUL, g, -1, 'neg backward');
  return binary('neg', Fn.MUL, x, -1, negate, negate);
}

export function exp(x: Tensor): Tensor {
  return unary('exp', Fn.EXP, x, (g, y) => elementwise(Fn.MUL, g, y, 'exp backward'));
}

export function log(x: Tensor): Tensor {
  return unary('log', Fn.LOG, x, (g) => elementwise(Fn.DIV, g, x, 'log backward'));
}

export function sqrt(x: Tensor): Tensor {
  return unary('sqrt', Fn.SQRT, x, (g, y) => elementwise(Fn.SQRT_GRAD, g, y, 'sqrt backward'));
}

export function relu(x: Tensor): Tensor {
  return unary('relu', Fn.RELU, x, reluBackward);
}

/** The gradient through a ReLU from its output y: grad where y > 0, else 0. Not recorded. */
export function reluBackward(grad: Tensor, y: Tensor): Tensor {
  return elementwise(Fn.RELU_GRAD, grad, y, 'relu backward');
}

export function sigmoid(x: Tensor): Tensor {
  return unary('sigmoid', Fn.SIGMOID, x, (g, y) => elementwise(Fn.SIGMOID_GRAD, g, y, 'sigmoid backward'));
}

export function tanh(x: Tensor): Tensor {
  return unary('tanh', Fn.TANH, x, (g, y) => elementwise(Fn.TANH_GRAD, g, y, 'tanh backward'));
}
