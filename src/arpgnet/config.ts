/** ARPGNet's configuration: the options, their defaults and their checks (no GPU code). See model.ts. */
import type { CrossEdges, Neighbourhood } from './graph.js';

export type FusionAttention = 'gat' | 'sdpa';
export type PositionEncoding = 'sinusoidal' | 'learned' | 'none';
export type Branches = 'both' | 'appearance' | 'relation';

export interface ARPGNetConfig {
  /** Channels of each frame: 1 (gray) or 3 (RGB). */
  inChannels: number;
  /** Base width w of the ResNet-18 trunk, as PCNN's (64 in torchvision's ResNet-18). */
  width: number;
  numClasses: number;
  /** [H, W] of each frame. */
  inputSize: readonly [number, number];
  /** T, the frames of a clip. */
  frames: number;
  /** P: the region graph's grid is P x P cells. */
  grid: number;
  neighbours: Neighbourhood;
  /** Edges between left-right mirrored cells. */
  symmetry: boolean;
  /** The trunk stage whose feature map the grid splits (1..3: layer1 at H/4, layer2 at H/8, layer3 at H/16). */
  relationStage: number;
  /** D: the width of every node of both graphs. */
  dim: number;
  /** Attention heads of every GATConv (and of SDPA fusion); D is divisible by them. */
  heads: number;
  fusion: FusionAttention;
  position: PositionEncoding;
  /** Edges joining the two sequences in the fusion graph. */
  cross: CrossEdges;
  /** Ablation: both branches, or one of them alone (the fusion graph then has its sequence only). */
  branches: Branches;
}

/** The CLI's options for ARPGNet, all optional (the defaults below). */
export type ARPGNetOptions = Partial<Omit<ARPGNetConfig, 'inChannels' | 'width' | 'numClasses' | 'inputSize'>>;

export const ARPGNET_DEFAULTS = {
  frames: 3,
  grid: 4,
  neighbours: 8,
  symmetry: true,
  relationStage: 2,
  heads: 4,
  fusion: 'gat',
  position: 'sinusoidal',
  cross: 'neighbours',
  branches: 'both',
} as const satisfies ARPGNetOptions;

/** D by default: 8w, the width of the trunk's layer4 (64 at the CLI's width 8). */
export function defaultDim(width: number): number {
  return 8 * width;
}

/** A complete configuration from the base fields and the options given, checked. */
export function resolveARPGNetConfig(base: Pick<ARPGNetConfig, 'inChannels' | 'width' | 'numClasses' | 'inputSize'>, options: ARPGNetOptions = {}): ARPGNetConfig {
  const config: ARPGNetConfig = { ...base, ...ARPGNET_DEFAULTS, dim: defaultDim(base.width), ...stripUndefined(options) };
  checkARPGNetConfig(config);
  return config;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Refuses a configuration the model cannot be built with, naming the field and what was expected. */
export function checkARPGNetConfig(c: ARPGNetConfig): void {
  const where = 'ARPGNet';
  const positive = (name: keyof ARPGNetConfig, least = 1) => {
    const v = c[name] as number;
    if (!Number.isInteger(v) || v < least) throw new Error(`${where}: ${name} must be an integer >= ${least}, got ${v}`);
  };
  if (c.inChannels !== 1 && c.inChannels !== 3) throw new Error(`${where}: inChannels must be 1 or 3, got ${c.inChannels}`);
  positive('width');
  positive('numClasses', 2);
  positive('frames');
  positive('grid');
  positive('dim');
  positive('heads');
  if (!(Array.isArray(c.inputSize) && c.inputSize.length === 2 && c.inputSize.every((s) => Number.isInteger(s) && s >= 32))) {
    throw new Error(`${where}: inputSize must be [H, W] of integers >= 32 (layer4 works at H/32), got ${JSON.stringify(c.inputSize)}`);
  }
  if (c.neighbours !== 4 && c.neighbours !== 8) throw new Error(`${where}: neighbours must be 4 or 8, got ${c.neighbours}`);
  if (typeof c.symmetry !== 'boolean') throw new Error(`${where}: symmetry must be true or false, got ${JSON.stringify(c.symmetry)}`);
  if (![1, 2, 3].includes(c.relationStage)) throw new Error(`${where}: relationStage must be 1, 2 or 3 (layer1..layer3), got ${c.relationStage}`);
  if (c.dim % c.heads !== 0) throw new Error(`${where}: dim ${c.dim} is not divisible by heads ${c.heads}`);
  const oneOf = (name: keyof ARPGNetConfig, values: readonly string[]) => {
    if (!values.includes(c[name] as string)) throw new Error(`${where}: ${name} must be one of ${values.join(', ')}, got ${JSON.stringify(c[name])}`);
  };
  oneOf('fusion', ['gat', 'sdpa']);
  oneOf('position', ['sinusoidal', 'learned', 'none']);
  oneOf('cross', ['same', 'neighbours', 'none']);
  oneOf('branches', ['both', 'appearance', 'relation']);
}

/** The trunk stage's map side for an input side (stem /4, then /2 per stage after layer1). */
export function stageSize(input: number, stage: number): number {
  let s = Math.floor((input + 2 * 3 - 7) / 2) + 1; // conv1 7x7 s2 p3
  s = Math.floor((s + 2 - 3) / 2) + 1; // maxpool 3x3 s2 p1
  for (let k = 2; k <= stage; k++) s = Math.floor((s + 2 - 3) / 2) + 1; // 3x3 s2 p1
  return s;
}
