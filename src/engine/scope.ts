/**
 * Ownership: every tensor belongs to the innermost `tidy` scope open when it was made, and is disposed
 * when that scope closes unless it is returned from it (then it moves to the enclosing scope) or
 * `keep`-ed (then its owner disposes it). Tensors made outside any scope belong to their creator.
 * Parameters, buffers, optimizer state and gradients of leaves are kept.
 */
export interface Owned {
  dispose(): void;
  /** The scope that will dispose it, if any. */
  scope: Set<Owned> | null;
}

const scopes: Set<Owned>[] = [];

export function adopt<T extends Owned>(value: T): T {
  const scope = scopes[scopes.length - 1] ?? null;
  value.scope = scope;
  scope?.add(value);
  return value;
}

/** Takes `value` out of its scope: it lives until disposed explicitly. */
export function keep<T extends Owned>(value: T): T {
  value.scope?.delete(value);
  value.scope = null;
  return value;
}

function collectOwned(value: unknown, into: Set<Owned>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ('scope' in value && typeof (value as Owned).dispose === 'function') {
    into.add(value as Owned);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const item of items) collectOwned(item, into, seen);
}

/** Runs `fn`; disposes every tensor made inside it except those in its result (arrays, objects and
 *  maps are searched), and all of them if it throws. `fn` must be synchronous: GPU work is recorded,
 *  not awaited. */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Owned>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy: the function returned a Promise; tidy scopes must be synchronous');
  } catch (error) {
    // Nothing made inside escapes a scope that threw: no result carries it out.
    for (const value of scope) {
      value.scope = null;
      value.dispose();
    }
    throw error;
  } finally {
    scopes.pop();
  }
  const returned = new Set<Owned>();
  collectOwned(result, returned);
  const parent = scopes[scopes.length - 1] ?? null;
  for (const value of scope) {
    if (returned.has(value)) {
      value.scope = parent;
      parent?.add(value);
    } else {
      value.scope = null;
      value.dispose();
    }
  }
  return result;
}
