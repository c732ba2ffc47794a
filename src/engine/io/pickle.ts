/**
 * A restricted pickle interpreter: it builds data (None, bools, ints, floats, strings, bytes, lists,
 * tuples, dicts) and nothing else. Every GLOBAL goes through `hooks.global`, which returns a callable
 * from an allow-list or throws; nothing from the file is ever executed or looked up by name. The
 * opcodes are those of protocol 2 (torch.save's) plus the few of protocols 3-4 that build data.
 * Dicts become plain objects with string keys (int keys as their decimal text), tuples arrays.
 */
import { defineEntry } from './dtypes.js';

/** A callable a GLOBAL may name: REDUCE calls it with the pickled arguments. */
export interface AllowedGlobal {
  readonly qualifiedName: string;
  call(args: unknown[]): unknown;
}

export interface PickleHooks {
  /** The allowed callable `module.name`; throws for anything not allowed. */
  global(module: string, name: string): AllowedGlobal;
  /** Resolves a persistent id (BINPERSID), such as torch's storage references. */
  persistentLoad(pid: unknown): unknown;
  /** BUILD: applies `state` to `target` or throws. */
  build(target: unknown, state: unknown): void;
}

const MARK = Symbol('mark');

export function isDict(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
}

export function unpickle(bytes: Uint8Array, hooks: PickleHooks, what: string): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let at = 0;
  let opcodeAt = 0;
  const fail = (message: string): never => {
    throw new Error(`${what}: ${message} (pickle byte ${opcodeAt})`);
  };
  const take = (n: number) => {
    if (at + n > bytes.length) fail('truncated pickle');
    at += n;
    return at - n;
  };
  const text = (n: number) => new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(take(n), at));
  const line = () => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) fail('truncated pickle (unterminated line)');
    const value = new TextDecoder().decode(bytes.subarray(at, end));
    at = end + 1;
    return value;
  };
  const pop = () => (stack.length ? stack.pop() : fail('pickle stack underflow'));
  const top = () => (stack.length ? stack[stack.length - 1] : fail('pickle stack underflow'));
  const popMark = () => {
    const mark = stack.lastIndexOf(MARK);
    if (mark < 0) fail('pickle MARK missing');
    const items = stack.splice(mark);
    items.shift();
    return items;
  };
  const memoGet = (key: number) => (memo.has(key) ? memo.get(key) : fail(`pickle memo ${key} is empty`));
  const signedLittleEndian = (n: number) => {
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at - n + i]);
    if (n && bytes[at - 1] & 0x80) value -= 1n << BigInt(8 * n);
    return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!isDict(target)) fail('SETITEM(S) on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) {
      const key = items[i];
      if (typeof key !== 'string' && typeof key !== 'number') fail(`dict key of type ${typeof key} is not supported`);
      defineEntry(target as Record<string, unknown>, String(key), items[i + 1]);
    }
  };
  const append = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target)) fail('APPEND(S) on something that is not a list');
    for (const item of items) (target as unknown[]).push(item); // not push(...items): a long list would overflow the call stack
  };
  // Only objects hooks.global returned during this run may be called by REDUCE.
  const callables = new WeakSet<AllowedGlobal>();
  const global = (module: string, name: string) => {
    const callable = hooks.global(module, name);
    callables.add(callable);
    stack.push(callable);
  };

  for (;;) {
    opcodeAt = at;
    const op = bytes[take(1)];
    switch (op) {
      case 0x80: // PROTO
        take(1);
        break;
      case 0x95: // FRAME (protocol 4): a length prefix only
        take(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`pickle ends with ${stack.length} values on the stack`);
        return stack[0];
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(bytes[take(1)]);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(take(2), true));
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(take(4), true));
        break;
      case 0x8a: // LONG1
        take(bytes[take(1)]);
        stack.push(signedLittleEndian(bytes[opcodeAt + 1]));
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(take(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(view.getUint32(take(4), true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(bytes[take(1)]));
        break;
      case 0x42: {
        // BINBYTES
        const n = view.getUint32(take(4), true);
        stack.push(bytes.slice(take(n), at));
        break;
      }
      case 0x43: {
        // SHORT_BINBYTES
        const n = bytes[take(1)];
        stack.push(bytes.slice(take(n), at));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push({});
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x74: // TUPLE
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: {
        // DICT
        const dict = {};
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x61: // APPEND
        append(stack[stack.length - 2], [pop()]);
        break;
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(bytes[take(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(view.getUint32(take(4), true), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(bytes[take(1)]));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(view.getUint32(take(4), true)));
        break;
      case 0x63: // GLOBAL
        global(line(), line());
        break;
      case 0x69: {
        // INST: instantiates a class named inline. Refused by name (hooks.global throws for anything not
        // allowed); the allowed globals are never pickled that way.
        const module = line();
        const name = line();
        hooks.global(module, name);
        fail(`INST of '${module}.${name}' is not supported`);
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        global(module as string, name as string);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop() as AllowedGlobal;
        if (!Array.isArray(args) || !callables.has(callable)) fail('REDUCE needs an allowed global and an argument tuple');
        stack.push(callable.call(args as unknown[]));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        hooks.build(top(), state);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}
