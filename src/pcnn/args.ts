/**
 * Command-line options of `pcnn`: the same common options in every command, each with a type, a default
 * and a line of help; unknown options and bad values are errors that name the option. An option table
 * declared with `satisfies OptionSpecs` keeps its literal types, from which `ParsedOptions` gives each
 * parsed value its type: flags are booleans, options with a default always have a value.
 */
interface OptionValues {
  string: string;
  int: number;
  number: number;
  flag: boolean;
}

export type OptionType = keyof OptionValues;
type ValueType = Exclude<OptionType, 'flag'>;

/** A flag is false unless given; any other option has a value of its type, from its default or the command line. */
export type OptionSpec =
  | { type: 'flag'; help: string }
  | { [T in ValueType]: { type: T; help: string; default?: OptionValues[T] } }[ValueType];

export type OptionSpecs = Record<string, OptionSpec>;

export type ParsedOptions<S extends OptionSpecs> = {
  [K in keyof S]: S[K] extends { default: unknown } | { type: 'flag' } ? OptionValues[S[K]['type']] : OptionValues[S[K]['type']] | undefined;
};

export const commonOptions = {
  data: { type: 'string', default: 'synthetic', help: "dataset: 'synthetic', an image folder, a FER2013 .csv, ckplus48 or fer2013 folders" },
  'input-size': { type: 'int', default: 48, help: 'input height and width in pixels' },
  'in-channels': { type: 'int', default: 1, help: '1 (grayscale) or 3 (RGB)' },
  width: { type: 'int', default: 8, help: 'base width of the ResNet-18 trunks (64 in the paper)' },
  classes: { type: 'int', default: 7, help: 'number of classes' },
  batch: { type: 'int', default: 32, help: 'batch size' },
  epochs: { type: 'int', default: 8, help: 'training epochs' },
  lr: { type: 'number', default: 0.01, help: 'SGD learning rate' },
  seed: { type: 'int', default: 0, help: 'seed of initialisation, data order and augmentation' },
  checkpoint: { type: 'string', help: 'checkpoint to load (.safetensors of ours, or a PyTorch .pth)' },
  out: { type: 'string', default: 'runs/latest', help: 'output folder (checkpoints, logs, plots)' },
  help: { type: 'flag', help: 'show this help' },
} satisfies OptionSpecs;

/** The options and positional arguments of `argv`; errors name the option, and the caller the command. */
export function parseArgs<S extends OptionSpecs>(argv: string[], specs: S, command: string): { options: ParsedOptions<S>; positional: string[] } {
  const options: Record<string, string | number | boolean | undefined> = {};
  const positional: string[] = [];
  for (const [name, spec] of Object.entries(specs)) options[name] = spec.type === 'flag' ? false : spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const spec: OptionSpec | undefined = Object.hasOwn(specs, name) ? specs[name] : undefined; // not --constructor
    if (!spec) throw new Error(`unknown option --${name} (see pcnn ${command} --help)`);
    if (spec.type === 'flag') {
      options[name] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`option --${name} needs a value`);
    options[name] = convert(value, spec.type, name);
  }
  // Every entry was set above from its spec: a flag's boolean, a default of the spec's type, or a value
  // converted by that type, which is what ParsedOptions<S> says of it.
  return { options: options as ParsedOptions<S>, positional };
}

function convert(value: string, type: ValueType, name: string): string | number {
  if (type === 'string') return value;
  const n = Number(value);
  if (!Number.isFinite(n) || (type === 'int' && !Number.isInteger(n))) {
    throw new Error(`--${name} expects ${type === 'int' ? 'an integer' : 'a number'}, got '${value}'`);
  }
  return n;
}

export function helpText(command: string, summary: string, specs: OptionSpecs, usage = ''): string {
  const lines = Object.entries(specs).map(([name, spec]) => {
    const arg = spec.type === 'flag' ? '' : ` <${spec.type}>`;
    const def = spec.type === 'flag' || spec.default === undefined ? '' : ` (default: ${spec.default})`;
    return `  --${(name + arg).padEnd(26)} ${spec.help}${def}`;
  });
  return `pcnn ${command}${usage ? ' ' + usage : ''}\n\n${summary}\n\nOptions:\n${lines.join('\n')}\n`;
}
