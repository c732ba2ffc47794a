/**
 * Command-line options of `pcnn`: the same common options in every command, each with a type, a default
 * and a line of help; unknown options and bad values are errors that name the option.
 */
export type OptionType = 'string' | 'int' | 'number' | 'flag' | 'list';

export interface OptionSpec {
  type: OptionType;
  help: string;
  default?: string | number | boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;
export type ParsedOptions = Record<string, string | number | boolean | string[] | undefined>;

export const commonOptions: OptionSpecs = {
  data: { type: 'string', default: 'synthetic', help: "dataset: 'synthetic', an image folder, a FER2013 .csv, ckplus48 or fer2013 folders" },
  'input-size': { type: 'int', default: 48, help: 'input height and width in pixels' },
  'in-channels': { type: 'int', default: 1, help: '1 (grayscale) or 3 (RGB)' },
  width: { type: 'int', default: 8, help: 'base width of the ResNet-18 trunks (64 in the paper)' },
  classes: { type: 'int', default: 7, help: 'number of classes' },
  batch: { type: 'int', default: 32, help: 'batch size' },
  epochs: { type: 'int', default: 8, help: 'training epochs' },
  lr: { type: 'number', default: 0.01, help: 'learning rate (SGD, momentum 0.9, weight decay 1e-4)' },
  seed: { type: 'int', default: 0, help: 'seed of initialisation, data order and augmentation' },
  checkpoint: { type: 'string', help: 'checkpoint to load (.safetensors of ours, or a PyTorch .pth)' },
  out: { type: 'string', default: 'runs/latest', help: 'output folder (checkpoints, logs, plots)' },
  help: { type: 'flag', help: 'show this help' },
};

export function parseArgs(argv: string[], specs: OptionSpecs, command: string): { options: ParsedOptions; positional: string[] } {
  const options: ParsedOptions = {};
  const positional: string[] = [];
  for (const [name, spec] of Object.entries(specs)) options[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const spec = specs[name];
    if (!spec) throw new Error(`pcnn ${command}: unknown option --${name} (see pcnn ${command} --help)`);
    if (spec.type === 'flag') {
      options[name] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`pcnn ${command}: option --${name} needs a value`);
    options[name] = convert(value, spec, name, command);
  }
  return { options, positional };
}

function convert(value: string, spec: OptionSpec, name: string, command: string): string | number | string[] {
  if (spec.type === 'string') return value;
  if (spec.type === 'list') return value.split(',').filter(Boolean);
  const n = Number(value);
  if (!Number.isFinite(n) || (spec.type === 'int' && !Number.isInteger(n))) {
    throw new Error(`pcnn ${command}: --${name} expects ${spec.type === 'int' ? 'an integer' : 'a number'}, got '${value}'`);
  }
  return n;
}

export function helpText(command: string, summary: string, specs: OptionSpecs, usage = ''): string {
  const lines = Object.entries(specs).map(([name, spec]) => {
    const arg = spec.type === 'flag' ? '' : ` <${spec.type}>`;
    const def = spec.default === undefined || spec.type === 'flag' ? '' : ` (default: ${spec.default})`;
    return `  --${(name + arg).padEnd(26)} ${spec.help}${def}`;
  });
  return `pcnn ${command}${usage ? ' ' + usage : ''}\n\n${summary}\n\nOptions:\n${lines.join('\n')}\n`;
}
