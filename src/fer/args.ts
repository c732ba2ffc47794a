/**
 * Command-line options of `pcnn`: tables of options that commands combine (each command accepts only the
 * options it uses), each option with a type, a default and a line of help; unknown options, a flag given
 * a value, and values of the wrong type or out of the option's range are errors that name the option. An option table
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

/** Values a numeric option refuses: 'positive' refuses 0 and below, 'non-negative' below 0, 'uint32' all
 *  but 0..2^32-1 (a seed: the generators keep 32 bits, so a larger one would repeat a smaller one's streams). */
export type OptionRange = 'positive' | 'non-negative' | 'uint32';

/** A flag is false unless given; any other option has a value of its type, from its default or the command line. */
export type OptionSpec =
  | { type: 'flag'; help: string }
  | { type: 'string'; help: string; default?: string }
  | { [T in Exclude<ValueType, 'string'>]: { type: T; help: string; default?: OptionValues[T]; range?: OptionRange } }[Exclude<ValueType, 'string'>];

export type OptionSpecs = Record<string, OptionSpec>;

export type ParsedOptions<S extends OptionSpecs> = {
  [K in keyof S]: S[K] extends { default: unknown } | { type: 'flag' } ? OptionValues[S[K]['type']] : OptionValues[S[K]['type']] | undefined;
};

/** Every command's --help. */
export const helpOption = {
  help: { type: 'flag', help: 'show this help' },
} satisfies OptionSpecs;

/** The model's configuration: for a fresh model, or a checkpoint that does not hold one (a PyTorch .pth). */
export const modelOptions = {
  model: { type: 'string', default: 'pcnn', help: "'pcnn' (Tian et al., TIP 2025), 'feratt' (Marrero Fernandez et al., CVPR-W 2019) or 'arpgnet' (Li et al., TAFFC 2025, our reconstruction; on clips); a checkpoint names its own" },
  'input-size': { type: 'int', default: 48, range: 'positive', help: 'input height and width in pixels' },
  'in-channels': { type: 'int', default: 1, range: 'positive', help: '1 (grayscale) or 3 (RGB)' },
  width: { type: 'int', default: 8, range: 'positive', help: 'base width of the ResNet-18 trunks (64 in the paper)' },
  classes: { type: 'int', default: 7, range: 'positive', help: 'number of classes' },
  // PCNN's; no default here, so that another model can refuse it when given.
  registration: { type: 'string', help: "pcnn: how x10 is registered onto x1, 'stn' (the paper's spatial transformer, default) or 'attention' (cross-attention, ours)" },
  // ARPGNet's (src/arpgnet/config.ts); no defaults here, so that another model can refuse them when given.
  frames: { type: 'int', range: 'positive', help: 'arpgnet: frames T per clip (default 3)' },
  grid: { type: 'int', range: 'positive', help: 'arpgnet: the region graph is a P x P grid of cells (default 4; 7 the other usual choice)' },
  neighbours: { type: 'int', range: 'positive', help: 'arpgnet: 4 or 8 neighbours per cell (default 8)' },
  'no-symmetry': { type: 'flag', help: 'arpgnet: no edges between left-right mirrored cells' },
  'relation-stage': { type: 'int', range: 'positive', help: 'arpgnet: trunk stage whose map the grid splits, 1..3 (default 2: layer2, H/8)' },
  dim: { type: 'int', range: 'positive', help: 'arpgnet: width D of every graph node (default 8 x --width)' },
  heads: { type: 'int', range: 'positive', help: 'arpgnet: attention heads (default 4)' },
  fusion: { type: 'string', help: "arpgnet: fusion attention, 'gat' (GATConv, default) or 'sdpa' (dot-product attention masked by the graph)" },
  position: { type: 'string', help: "arpgnet: temporal position encoding, 'sinusoidal' (default), 'learned' or 'none'" },
  cross: { type: 'string', help: "arpgnet: edges between the two sequences, 'neighbours' (same and adjacent steps, default), 'same' or 'none'" },
  branches: { type: 'string', help: "arpgnet: 'both' (default), or 'appearance' / 'relation' alone (ablation)" },
  ...helpOption,
} satisfies OptionSpecs;

/** A checkpoint to read, and the folder the command writes to. */
export const checkpointOptions = {
  checkpoint: { type: 'string', help: 'checkpoint to load (.safetensors of ours, or a PyTorch .pth)' },
  out: { type: 'string', default: 'runs/latest', help: 'output folder (checkpoints, logs, plots)' },
} satisfies OptionSpecs;

/** The data a command reads, in batches. */
export const dataOptions = {
  data: { type: 'string', default: 'synthetic', help: "dataset: 'synthetic', an image folder, a FER2013 .csv, ckplus48 or fer2013 folders" },
  batch: { type: 'int', default: 32, range: 'positive', help: 'batch size' },
  seed: { type: 'int', default: 0, range: 'uint32', help: 'seed of initialisation, data order and augmentation' },
} satisfies OptionSpecs;

/** The options and positional arguments of `argv`, and the names of the options given there (a command may
 *  refuse one that its data or checkpoint makes unused); errors name the option, and the caller the command. */
export function parseArgs<S extends OptionSpecs>(
  argv: string[],
  specs: S,
  command: string,
): { options: ParsedOptions<S>; positional: string[]; given: ReadonlySet<string> } {
  const options: Record<string, string | number | boolean | undefined> = {};
  const positional: string[] = [];
  const given = new Set<string>();
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
    given.add(name);
    if (spec.type === 'flag') {
      // '--resume=0' read as true (or as false) would guess what was meant.
      if (inline !== undefined) throw new Error(`--${name} is a flag and takes no value, got '${arg}' (give --${name} alone, or leave it out)`);
      options[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`option --${name} needs a value`);
    options[name] = spec.type === 'string' ? value : convert(value, spec.type, spec.range, name);
  }
  // Every entry was set above from its spec: a flag's boolean, a default of the spec's type, or a value
  // converted by that type, which is what ParsedOptions<S> says of it.
  return { options: options as ParsedOptions<S>, positional, given };
}

/** The largest seed: 2^32 - 1. */
export const UINT32_MAX = 2 ** 32 - 1;

function convert(value: string, type: 'int' | 'number', range: OptionRange | undefined, name: string): number {
  const n = Number(value);
  const inRange = range === 'positive' ? n > 0 : range === 'non-negative' ? n >= 0 : range === 'uint32' ? n >= 0 && n <= UINT32_MAX : true;
  if (value.trim() === '' || !Number.isFinite(n) || (type === 'int' && !Number.isInteger(n)) || !inRange) {
    const kind = type === 'int' ? 'integer' : 'number';
    const expected = range === 'uint32' ? `an integer in 0..${UINT32_MAX}` : range ? `a ${range} ${kind}` : type === 'int' ? 'an integer' : 'a number';
    throw new Error(`--${name} expects ${expected}, got '${value}'`);
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
