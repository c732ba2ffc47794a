/**
 * PCNN (Tian et al., "A Perception CNN for Facial Expression Recognition", IEEE TIP 2025), computing
 * exactly what the authors' PyTorch code computes, with its `state_dict` names:
 *
 *   features1            global ResNet-18 trunk (stem + layer1..3) on the whole face → x1 (4w channels, ~H/16)
 *   features2,3,4,6,7    local trunks on the left eye, right eye, left cheek, right cheek and mouth crops
 *   fc2,3,4,6,7          sense heads: global average pool + Linear(4w, classes) per local map; heads = their sum
 *   (fusion)             eyes side by side and cheeks side by side, each resized to x1's width, stacked with the
 *                        mouth on height and resized to x1's size (bilinear, align_corners) → x10
 *   features8.0          layer4, shared: once on x10 (registration), once on the fused map (classification)
 *   fc_loc.0, fc_loc.2   Linear(8w·h4·w4, 32), ReLU, Linear(32, 6) → theta; affine_grid + grid_sample of x10 → x11
 *   fc                   main head on layer4(x1 + x11)
 *
 * `registration: 'attention'` (ours, not the paper's; see registration.ts) computes x11 by cross-attention
 * from x1's positions to x10's instead: `attention_registration.*` replaces fc_loc, and layer4 runs once.
 *
 * layer4's BatchNorms see x10 and x1 + x11, whose statistics differ; as in the official code, one set of
 * running statistics serves both unless `registrationStatistics` holds a second set for the pass on x10
 * (filled by recalibrateBatchNorm, src/fer/recalibrate.ts; saved by registration-statistics.ts).
 */
import { Module, Sequential, type StateDict } from '../nn/module.js';
import { Linear } from '../nn/linear.js';
import { ReLU } from '../nn/activation.js';
import { batchNorms, type BatchNorm2d, type RunningStatistics } from '../nn/batchnorm.js';
import { add } from '../kernels/elementwise/index.js';
import { narrow, reshape, flatten } from '../kernels/shape/index.js';
import { adaptiveAvgPool2d } from '../kernels/pool/index.js';
import { affineGrid, gridSample } from '../kernels/resample/index.js';
import { multiDomainFusion } from '../kernels/fusion/index.js';
import { upload, type Tensor } from '../engine/tensor.js';
import { isGradEnabled } from '../engine/autograd.js';
import { FoldCache, initResnet, resnetLayer, resnetTrunk } from './resnet.js';
import { canPair, pairedTrunks } from './paired.js';
import { checkInputSize, cropBoxes, layer4Size, trunkSize, type CropBox } from './geometry.js';
import { CrossAttentionRegistration } from './registration.js';

const SENSE_HEADS = ['fc2', 'fc3', 'fc4', 'fc6', 'fc7'];
/** Local trunks (indices into `locals`) run as pairs where their crops have one size (the eyes, the cheeks: an even input width). */
const PAIRS = [
  [0, 1],
  [2, 3],
] as const;
/** The modules whose outputs are class scores: the main head and the five sense heads. */
export const CLASS_HEADS = ['fc', ...SENSE_HEADS];

export interface PCNNConfig {
  /** Input channels: 1 (grayscale) or 3 (RGB). */
  inChannels?: number;
  /** Base width w of the ResNet-18 trunks (64 in the paper). */
  width?: number;
  numClasses?: number;
  /** Input size [H, W]; fixes the size of fc_loc's input. */
  inputSize?: readonly [number, number];
  /** 'identity' starts fc_loc.2 at theta = I (weights 0, bias [1,0,0,0,1,0]), as spatial transformers
   *  usually are; 'default' keeps PyTorch's Linear initialisation. Unused with registration 'attention'. */
  stnInit?: 'identity' | 'default';
  /** How x10 is registered onto x1: 'stn', the paper's spatial transformer, or 'attention', multi-head
   *  cross-attention from x1's positions to x10's (ours; registration.ts). */
  registration?: Registration;
}

export type Registration = 'stn' | 'attention';
export const REGISTRATIONS: readonly Registration[] = ['stn', 'attention'];

export interface PCNNOutput {
  out: Tensor;
  heads: Tensor;
}

/** Everything a forward pass computes that is worth looking at (`forwardDetailed`). */
export interface PCNNInternals extends PCNNOutput {
  /** Global feature map [N, 4w, gh, gw]. */
  global: Tensor;
  /** The five local feature maps (left eye, right eye, left cheek, right cheek, mouth). */
  localMaps: Tensor[];
  /** Reassembled local face x10 and its registration x11, both [N, 4w, gh, gw]. */
  x10: Tensor;
  x11: Tensor;
  /** [N, 2, 3] affine parameters of the spatial transformer ('stn'), else null. */
  theta: Tensor | null;
  /** The cross-attention's head-averaged weights [N, gh·gw (x1's positions), gh·gw (x10's)] ('attention'), else null. */
  registrationWeights: Tensor | null;
}

export class PCNN extends Module {
  readonly config: Required<PCNNConfig>;
  readonly features1: Sequential;
  readonly locals: Sequential[];
  readonly features8: Sequential;
  /** The spatial transformer's localisation head ('stn'), or null. */
  readonly fcLoc: Sequential | null;
  /** The cross-attention registration ('attention'), or null. */
  readonly crossAttention: CrossAttentionRegistration | null;
  readonly fc: Linear;
  readonly senseHeads: Linear[];
  /** Running statistics of layer4's BatchNorms (in `layer4Norms` order) for its pass on x10; null:
   *  the registered ones serve both passes, as in the official code. Not part of the state dict. */
  private registration: RunningStatistics[] | null = null;
  /** Run the eye and cheek trunks pairwise (one grouped trunk per pair) where they allow it; off: each
   *  trunk alone. The same function either way (tests compare them). */
  pairLocalTrunks = true;
  /** Folded inference weights of the paired trunks. */
  private readonly pairFolds = new FoldCache();

  constructor(config: PCNNConfig = {}) {
    super();
    const c = (this.config = {
      inChannels: config.inChannels ?? 1,
      width: config.width ?? 16,
      numClasses: config.numClasses ?? 7,
      inputSize: config.inputSize ?? [48, 48],
      stnInit: config.stnInit ?? 'identity',
      registration: config.registration ?? 'stn',
    });
    if (!REGISTRATIONS.includes(c.registration)) {
      throw new Error(`PCNN: registration must be one of ${REGISTRATIONS.join(', ')}, got ${String(c.registration)}`);
    }
    if (![1, 3].includes(c.inChannels)) throw new Error(`PCNN: inChannels must be 1 or 3, got ${c.inChannels}`);
    if (!Number.isInteger(c.width) || c.width < 1) throw new Error(`PCNN: width must be a positive integer, got ${c.width}`);
    if (!Number.isInteger(c.numClasses) || c.numClasses < 2) {
      throw new Error(`PCNN: numClasses must be an integer >= 2, got ${c.numClasses}`);
    }
    checkInputSize(c.inputSize);
    const w = c.width;
    const [gh, gw] = [trunkSize(c.inputSize[0]), trunkSize(c.inputSize[1])];

    this.features1 = this.registerModule('features1', resnetTrunk(c.inChannels, w));
    this.locals = ['features2', 'features3', 'features4', 'features6', 'features7'].map((name) =>
      this.registerModule(name, resnetTrunk(c.inChannels, w)),
    );
    this.features8 = this.registerModule('features8', new Sequential(resnetLayer(4 * w, 8 * w, 2)));
    const locInputs = 8 * w * layer4Size(gh) * layer4Size(gw);
    const stn = c.registration === 'stn';
    this.fcLoc = stn ? this.registerModule('fc_loc', new Sequential(new Linear(locInputs, 32), new ReLU(), new Linear(32, 6))) : null;
    this.crossAttention = stn ? null : this.registerModule('attention_registration', new CrossAttentionRegistration(4 * w, [gh, gw]));
    this.fc = this.registerModule('fc', new Linear(8 * w, c.numClasses));
    this.senseHeads = SENSE_HEADS.map((name) =>
      this.registerModule(name, new Linear(4 * w, c.numClasses)),
    );
    initResnet(this);
    if (this.fcLoc && c.stnInit === 'identity') {
      const last = this.fcLoc.layers[2] as Linear;
      upload(last.weight, new Float32Array(last.weight.size));
      upload(last.bias!, [1, 0, 0, 0, 1, 0]);
    }
  }

  forward(x: Tensor): PCNNOutput {
    const { out, heads } = this.forwardDetailed(x);
    return { out, heads };
  }

  /** Every intermediate; `attentionWeights` asks the cross-attention registration for its weights. */
  forwardDetailed(x: Tensor, { attentionWeights = false } = {}): PCNNInternals {
    const { inChannels, inputSize } = this.config;
    if (x.ndim !== 4 || x.shape[1] !== inChannels || x.shape[2] !== inputSize[0] || x.shape[3] !== inputSize[1]) {
      throw new Error(
        `PCNN.forward: expected input [N, ${inChannels}, ${inputSize[0]}, ${inputSize[1]}], got [${x.shape}]`,
      );
    }
    const boxes = cropBoxes(inputSize[0], inputSize[1]);
    const x1 = this.features1.forward(x);
    const [n, channels, gh, gw] = x1.shape;
    const crops = [boxes.leftEye, boxes.rightEye, boxes.leftCheek, boxes.rightCheek, boxes.mouth];
    const localMaps = this.localTrunks(x, crops);

    const logits = localMaps.map((map, i) => this.senseHeads[i].forward(flatten(adaptiveAvgPool2d(map, [1, 1]))));
    const heads = logits.reduce((sum, l) => add(sum, l));

    const [leftEye, rightEye, leftCheek, rightCheek, mouth] = localMaps;
    const x10 = multiDomainFusion(leftEye, rightEye, leftCheek, rightCheek, mouth, [gh, gw]);
    let x11: Tensor;
    let theta: Tensor | null = null;
    let registrationWeights: Tensor | null = null;
    if (this.crossAttention) {
      ({ x11, weights: registrationWeights } = this.crossAttention.forward(x1, x10, { needWeights: attentionWeights }));
    } else {
      theta = reshape(this.fcLoc!.forward(flatten(this.registrationPass(x10))), [n, 2, 3]);
      const grid = affineGrid(theta, [n, channels, gh, gw], { alignCorners: true });
      x11 = gridSample(x10, grid, { mode: 'bilinear', paddingMode: 'zeros', alignCorners: true });
    }
    const fused = this.features8.forward(add(x1, x11));
    const out = this.fc.forward(flatten(adaptiveAvgPool2d(fused, [1, 1])));
    return { out, heads, global: x1, localMaps, x10, x11, theta, registrationWeights };
  }

  /**
   * Refuses state-dict entries of the other registration (fc_loc.* for 'stn', attention_registration.*
   * for 'attention') with an error that says so, before the load lists them as missing and unexpected.
   */
  checkRegistrationOf(names: string[], where: string): void {
    const has = (prefix: string) => names.some((name) => name.startsWith(prefix));
    const theirs = has('fc_loc.') ? 'stn' : has('attention_registration.') ? 'attention' : null;
    const ours = this.config.registration;
    if (theirs && theirs !== ours) {
      throw new Error(
        `${where}: holds a PCNN with registration '${theirs}' (${theirs === 'stn' ? 'fc_loc' : 'attention_registration'}.*), ` +
          `this model has registration '${ours}'; build it with --registration ${theirs} (PCNN({ registration: '${theirs}' }))`,
      );
    }
  }

  override loadStateDict(dict: StateDict, options?: { strict?: boolean }): { missing: string[]; unexpected: string[] } {
    this.checkRegistrationOf(Object.keys(dict), 'PCNN.loadStateDict');
    return super.loadStateDict(dict, options);
  }

  /** The BatchNorms of the shared layer4, in state-dict order. */
  layer4Norms(): BatchNorm2d[] {
    return batchNorms(this.features8);
  }

  get registrationStatistics(): readonly RunningStatistics[] | null {
    return this.registration;
  }

  /** Keeps (or, with null, stops keeping) separate layer4 statistics for the pass on x10. */
  setRegistrationStatistics(statistics: RunningStatistics[] | null): void {
    if (statistics && this.crossAttention) {
      throw new Error("PCNN: registration 'attention' has no layer4 pass on x10, so no registration statistics to keep");
    }
    if (statistics && statistics.length !== this.layer4Norms().length) {
      throw new Error(`PCNN: ${statistics.length} sets of registration statistics for ${this.layer4Norms().length} layer4 BatchNorms`);
    }
    for (const s of this.registration ?? []) {
      if (statistics?.includes(s)) continue;
      s.mean.dispose();
      s.variance.dispose();
    }
    this.registration = statistics;
  }

  override dispose(): void {
    this.setRegistrationStatistics(null);
    super.dispose();
  }

  /** The five local maps; the eyes and the cheeks as one paired trunk each where their crops have one
   *  size (see paired.ts), unless `pairLocalTrunks` is off. */
  private localTrunks(x: Tensor, crops: CropBox[]): Tensor[] {
    const maps: (Tensor | null)[] = crops.map(() => null);
    if (this.training || isGradEnabled()) this.pairFolds.clear();
    for (const [i, j] of PAIRS) {
      const [a, b] = [crops[i], crops[j]];
      if (!this.pairLocalTrunks || a.height !== b.height || a.width !== b.width || !canPair(this.locals[i], this.locals[j])) continue;
      [maps[i], maps[j]] = pairedTrunks(this.locals[i], this.locals[j], crop(x, a), crop(x, b), this.pairFolds);
    }
    return maps.map((map, i) => map ?? this.locals[i].forward(crop(x, crops[i])));
  }

  protected override releaseCaches(): void {
    this.pairFolds.clear();
  }

  private registrationPass(x10: Tensor): Tensor {
    const statistics = this.registration;
    const run = () => this.features8.forward(x10);
    if (!statistics) return run();
    return this.layer4Norms().reduce<() => Tensor>((inner, bn, i) => () => bn.withStatistics(statistics[i], inner), run)();
  }
}

function crop(x: Tensor, box: CropBox): Tensor {
  return narrow(narrow(x, 2, box.top, box.height), 3, box.left, box.width);
}
