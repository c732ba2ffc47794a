/**
 * Reverse-mode autograd on a tape. An op that has an input requiring grad attaches a `GradNode` to
 * its output: the inputs, and a rule mapping the output's gradient to the inputs' gradients.
 * `backward` walks the graph in reverse topological order, summing gradients of tensors used more
 * than once, disposing each intermediate gradient once its node has run, and adding into `.grad` of
 * leaves (which are kept out of tidy scopes, like parameters).
 */
import { empty, full, type Tensor } from './tensor.js';
import { dispatch, workgroups1d } from './recorder.js';
import { Kernel } from './kernel.js';
import { keep } from './scope.js';
import accumulateSource from '../../shaders/engine/accumulate.wgsl';

export interface GradNode {
  /** Name of the op, for errors and debugging. */
  op: string;
  inputs: readonly Tensor[];
  /** Gradients for each input (null where the input needs none), given the output's gradient. */
  backward(grad: Tensor): (Tensor | null)[];
}

let gradEnabled = true;
/** Sees every op's output and every gradient backward computes (NaN diagnosis; `observeOps`). */
let observer: ((what: string, value: Tensor) => void) | null = null;

/** Runs `fn` calling `watch` with each op's output (forward) and each input gradient (backward), in order. */
export function observeOps<T>(watch: (what: string, value: Tensor) => void, fn: () => T): T {
  const previous = observer;
  observer = watch;
  try {
    return fn();
  } finally {
    observer = previous;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording the graph (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Attaches the backward rule to `out` when grad mode is on and an input requires grad. */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backwardRule: (grad: Tensor) => (Tensor | null)[],
): Tensor {
  observer?.(`${op} (forward) output [${out.shape}]`, out);
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward: backwardRule };
  }
  return out;
}

const accumulateKernel = new Kernel('accumulate', accumulateSource);

/** a + b of equal shape, as a new tensor (the engine's own add, so that autograd needs no op module). */
export function accumulate(a: Tensor, b: Tensor, makeEmpty: (shape: readonly number[]) => Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`backward: gradient shapes [${a.shape}] and [${b.shape}] differ`);
  const out = makeEmpty(a.shape);
  dispatch(accumulateKernel, {
    workgroups: workgroups1d(Math.ceil(a.size / 1024)),
    buffers: { a, b, out },
    uniforms: { count: a.size },
  });
  return out;
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: PCNN graphs are deep enough to make recursion a risk in small-stack browsers.
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const inputs = top[0].node?.inputs ?? [];
    if (top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next.requiresGrad && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  return order.reverse();
}

export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new Error(`backward: tensor of shape [${root.shape}] does not require grad`);
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new Error(`backward: tensor of shape [${root.shape}] is not a scalar; pass the upstream gradient`);
    }
  } else if (grad.shape.join() !== root.shape.join()) {
    throw new Error(`backward: gradient of shape [${grad.shape}] for a tensor of shape [${root.shape}]`);
  }
  const makeEmpty = (shape: readonly number[]) => empty(shape, 'float32', 'backward');
  const pending = new Map<Tensor, Tensor>();
  // Gradients held in `pending`: one tensor may not stand for two (a rule can pass its input through).
  const held = new Set<Tensor>();
  const give = (target: Tensor, g: Tensor) => {
    if (held.has(g)) g = g.clone();
    const previous = pending.get(target);
    if (previous) {
      const sum = accumulate(previous, g, makeEmpty);
      held.delete(previous);
      previous.dispose();
      if (!held.has(g)) g.dispose();
      g = sum;
    }
    pending.set(target, g);
    held.add(g);
  };

  noGrad(() => {
    give(root, grad ? grad.view(grad.shape) : full(root.shape, 1));
    for (const t of topologicalOrder(root)) {
      const g = pending.get(t)!;
      const node = t.node;
      if (!node) {
        pending.delete(t);
        held.delete(g);
        if (t.grad) {
          const sum = accumulate(t.grad, g, makeEmpty);
          t.grad.dispose();
          g.dispose();
          t.grad = keep(sum);
        } else {
          t.grad = keep(g);
        }
        continue;
      }
      pending.delete(t);
      held.delete(g);
      const grads = node.backward(g);
      if (grads.length !== node.inputs.length) {
        throw new Error(`backward of ${node.op}: ${grads.length} gradients for ${node.inputs.length} inputs`);
      }
      grads.forEach((ig, i) => {
        const input = node.inputs[i];
        if (!ig) return;
        if (ig.shape.join() !== input.shape.join()) {
          throw new Error(`backward of ${node.op}: gradient [${ig.shape}] for input ${i} of shape [${input.shape}]`);
        }
        observer?.(`${node.op} (backward) gradient of input ${i} [${ig.shape}]`, ig);
        if (input.requiresGrad) give(input, ig);
        else if (ig !== g) ig.dispose();
      });
      if (!held.has(g)) g.dispose();
      t.node = null;
    }
  });
}
