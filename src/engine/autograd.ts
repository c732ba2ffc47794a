/**
 * Reverse-mode autograd on a tape. An op that has an input requiring grad attaches a `GradNode` to
 * its output: the inputs, and a rule mapping the output's gradient to the inputs' gradients.
 * `backward` walks the graph in reverse topological order, summing gradients of tensors used more
 * than once, disposing each intermediate gradient once its node has run, and adding into `.grad` of
 * leaves (which are kept out of tidy scopes, like parameters). As in PyTorch, a backward frees the graph
 * it ran through (a second one through it is an error) unless it is asked to retain it.
 */
import { DisposedTensorError, empty, full, type Tensor } from './tensor.js';
import { dispatch, workgroups1d } from './recorder.js';
import { Kernel } from './kernel.js';
import { keep } from './scope.js';
import accumulateSource from '../../shaders/engine/accumulate.wgsl';

export interface GradNode {
  /** Name of the op, for errors and debugging. */
  op: string;
  inputs: readonly Tensor[];
  /** Gradients for each input (null where the input needs none), given the output's gradient; null once
   *  a backward has run through the node without retaining the graph. */
  backward: ((grad: Tensor) => (Tensor | null)[]) | null;
  /** Temporaries of the forward that only the rule reads: freed with the node. */
  saved: readonly Tensor[];
}

/** Frees a node's saved temporaries (after a backward that does not retain the graph, or when its
 *  output is disposed) and returns what stays of it: its name, for the error a later backward gets. */
export function releaseNode(node: GradNode): GradNode {
  for (const t of node.saved) t.dispose();
  return { op: node.op, inputs: [], backward: null, saved: [] };
}

export interface BackwardOptions {
  /** Keep the graph, so that another backward can run through it (PyTorch's `retain_graph`). */
  retainGraph?: boolean;
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

/** Whether an op on these inputs records its backward: grad mode is on and an input requires grad. */
export function willRecord(inputs: readonly (Tensor | null | undefined)[]): boolean {
  return gradEnabled && inputs.some((t) => t?.requiresGrad);
}

/** Attaches the backward rule to `out` when grad mode is on and an input requires grad. `saved`: the
 *  forward's temporaries that the rule reads, freed when the graph is (so that a retained graph keeps
 *  them), or at once when nothing is recorded. */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backwardRule: (grad: Tensor) => (Tensor | null)[],
  saved: readonly Tensor[] = [],
): Tensor {
  observer?.(`${op} (forward) output [${out.shape}]`, out);
  if (willRecord(inputs)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward: backwardRule, saved };
  } else {
    // Safe right after recording the forward: whoever reuses the pooled buffers is recorded later.
    for (const t of saved) t.dispose();
  }
  return out;
}

const accumulateKernel = new Kernel('accumulate', accumulateSource);

/** a + b of equal shape, as a new tensor (the engine's own add, so that autograd needs no op module). */
export function accumulate(a: Tensor, b: Tensor, makeEmpty: (shape: readonly number[]) => Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`backward: gradient shapes [${a.shape}] and [${b.shape}] differ`);
  const out = makeEmpty(a.shape);
  dispatch(accumulateKernel, {
    workgroups: workgroups1d(Math.ceil(a.size / (accumulateKernel.constant('ELEMENTS_PER_INVOCATION') * accumulateKernel.workgroupInvocations))),
    buffers: { a, b, out },
    uniforms: { count: a.size },
  });
  return out;
}

/** Refuses, before any work, a graph that can no longer be run backward: named by the op that made
 *  `t` and the op `t` feeds (`use`). */
function checkRunnable(t: Tensor, use: string): void {
  const made = t.node ? `the output of ${t.node.op} [${t.shape}]` : `a leaf of shape [${t.shape}]`;
  if (t.isDisposed) {
    throw new Error(
      `backward: ${made} (${use}) was disposed before backward, by dispose() or by the closing of the tidy ` +
        'scope that made it; run backward before that, inside the scope of its forward',
    );
  }
  if (t.node?.backward === null) {
    throw new Error(
      `backward: trying to backward through the graph a second time: ${made} (${use}) was already ` +
        'backpropagated through, which freed its part of the graph; pass { retainGraph: true } to the ' +
        'first backward to run another through it',
    );
  }
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  checkRunnable(root, 'the tensor backward was called on');
  // Iterative DFS: PCNN graphs are deep enough to make recursion a risk in small-stack browsers.
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const inputs = top[0].node?.inputs ?? [];
    if (top[1] < inputs.length) {
      const index = top[1]++;
      const next = inputs[index];
      if (next.requiresGrad && !visited.has(next)) {
        checkRunnable(next, `input ${index} of ${top[0].node!.op}`);
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

/** A node's rule, run; a tensor it saved and that is gone is named with the op and the reason. */
function runRule(node: GradNode, grad: Tensor): (Tensor | null)[] {
  try {
    return node.backward!(grad);
  } catch (error) {
    if (!(error instanceof DisposedTensorError)) throw error;
    throw new Error(
      `backward of ${node.op}: a tensor it saved in the forward (shape [${error.shape}]) was disposed, by ` +
        'dispose() or by the closing of the tidy scope of its forward; run backward before that, inside that scope',
      { cause: error },
    );
  }
}

export function backward(root: Tensor, grad?: Tensor, options: BackwardOptions = {}): void {
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
      const grads = runRule(node, g);
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
      if (!options.retainGraph) t.node = releaseNode(node);
    }
  });
}
