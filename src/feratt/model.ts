/**
 * FERAtt, GMM variant (Fernandez, Pena, Ren, Cunha, "FERAtt: Facial Expression Recognition with
 * Attention Net", CVPR workshops 2019): `FERAttentionGMMNet` of the authors' code
 * (github.com/pedrodiamel/ferattention, branch cvprw, torchlib/models/ferattentionnet.py and
 * preactresnet.py), with its state-dict names:
 *
 *   attention_map        AttentionResNet (blocks.ts): ResNet-34 encoder (conv1 7x7/2, bn1, ReLU, a 2x2 max
 *                        pool, layer1..4 = [3, 4, 6, 3] BasicBlocks), decoder center (on the max-pooled
 *                        conv5), dec5..dec1 (x2 bilinear upsample + two ConvRelu, skip concatenations),
 *                        attention_map.attention_map = ConvRelu + 1x1 conv → g_att [N, 1, H, W] (logits)
 *   conv_input           9x9 conv C → f (pad 4)
 *   feature              four _Residual_Block_SR (conv3x3, LeakyReLU 0.2, conv3x3, + input)
 *   conv_mid             3x3 conv f → f; g_ft = conv_mid(feature(conv_input(x))) + conv_input(x)
 *   (fusion)             sigmoid(g_att) * g_ft (one channel broadcast over f)
 *   reconstruction       ConvRelu(f, f), 1x1 conv f → C → att (the attended face, [N, C, H, W])
 *   netclass             preactresembnetex18 (preact.ts) on avg_pool2d(att, 4) → z (dim), logits (classes)
 *
 * In training mode the classifier sees the clean face (`clean`, the input with its background removed:
 * x_img * y_mask[:, 1] in the official training step) instead of att with probability 0.2, drawn per
 * batch, as the official forward (`random.random() < 0.2`); here from `config.generator` (default: the
 * engine's default generator, which training reseeds at each epoch from (seed, epoch), so that a resumed
 * run draws what the uninterrupted one drew), and `cleanProbability` (0 turns it off). netclass's running
 * statistics then average both inputs, and while the attended face is far from the clean one they fit
 * neither (on CK+48 at width 4, where the attention map stayed constant, its first running variance ended
 * ~100x the attended faces'): fer/recalibrate.ts (`--recalibrate-bn`) re-estimates them on attended faces.
 *
 * State dict: as PyTorch's for the official module. AttentionResNet holds the encoder's layers under two
 * names each (attention_map.conv1.0/.1 = attention_map.encoder.conv1/bn1, attention_map.conv2..conv5 =
 * attention_map.encoder.layer1..4): `stateDict()` emits both names (one tensor), as PyTorch's
 * state_dict() does, and `loadStateDict` accepts a dict with both (their values must agree) or either
 * one. ResNet-34's classifier `attention_map.encoder.fc` (8w → 1000) is kept, loaded and saved, never run.
 * `parameters()` lists a shared tensor once: 46,417,652 parameters for the official configuration
 * (128x128x3, dim 64, 8 classes, width 64), 45,904,652 without encoder.fc, and 10.09 G
 * multiply-accumulates per image (see info.ts). A module tree walk (namedModules, batchNorms) meets the
 * shared modules twice.
 *
 * Width scaling (config.width = w, the ResNet-34 base width, 64 officially): everything scales by w/64:
 * encoder w, 2w, 4w, 8w; decoder num_filters and feature filters f = w/2 (32 officially); PreActResNet
 * widths w, 2w, 4w, 8w (64..512). w must be even. The 1000 outputs of the unused encoder.fc do not scale.
 *
 * Input sizes: H and W must be multiples of 64 (the encoder halves the input six times, the decoder
 * doubles it back with concatenations at each scale), and the classifier's fixed 4x4 average pool
 * (F.avg_pool2d(out, 4) on layer4's H/32 x W/32 map, flattened into Linear(8w, dim)) must give 1x1:
 * H/32 and W/32 in 4..7. Together: each side 128 (official) or 192. Ours: 64, where the official code
 * fails (layer4's map is 2x2, smaller than the pool), with the pool over that whole map instead, which
 * is what the official 4x4 pool computes at 128 (the global average of layer4's map); it costs a quarter
 * of 128's multiply-accumulates, for training on CPU adapters. Other sizes are refused.
 *
 * Departures from the official code, and why:
 *   - No ImageNet weights (the official encoder starts from torchvision's pretrained resnet34): none are
 *     available here, so the encoder starts from torchvision's initialisation and trains from scratch.
 *   - Width scaling (above), for reduced-width CPU training; width 64 is the official model exactly.
 *   - inChannels other than 3: the official encoder is torchvision's resnet34, whose conv1 takes 3
 *     channels whatever num_channels says (a gray input fails there); here encoder.conv1 takes
 *     inChannels, like conv_input, reconstruction and netclass.conv1 already do officially.
 *   - The 0.2 draw comes from a seeded Generator instead of Python's global `random`, and is made only
 *     when `clean` is given and cleanProbability > 0 (the official forward would fail on x_org = None
 *     when the draw hits).
 *   - In eval mode without a graph the encoder's batch norms are folded into their convolutions
 *     (the same function, computed in fewer passes).
 */
import { Module, Sequential, loadTensors, type StateDict, type StateValue } from '../nn/module.js';
import { Conv2d } from '../nn/conv.js';
import { mul, sigmoid } from '../kernels/elementwise/index.js';
import { avgPool2d } from '../kernels/pool/index.js';
import { defaultGenerator, type Generator } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { AttentionResNet, ConvRelu, ResidualBlockSR, convForward } from './blocks.js';
import { PreActResEmbExNet } from './preact.js';
import { CLASSIFIER_POOL, resolveFERAttConfig, type FERAttConfig, type FERAttResolvedConfig } from './config.js';

export { resolveFERAttConfig, FERATT_INPUT_SIZES, type FERAttConfig, type FERAttResolvedConfig } from './config.js';

export interface FERAttOutput {
  /** Embedding [N, dim] (the official z). */
  z: Tensor;
  /** Class scores [N, classes] (y). */
  logits: Tensor;
  /** Reconstructed, attended face [N, C, H, W] (att). */
  attended: Tensor;
  /** Attention logits [N, 1, H, W] (g_att; the map is their sigmoid). */
  attention: Tensor;
  /** Features [N, f, H, W] (g_ft). */
  features: Tensor;
  /** Whether the classifier saw `clean` instead of `attended` (the training-mode 0.2 draw). */
  classifiedClean: boolean;
}

export class FERAtt extends Module {
  readonly config: FERAttResolvedConfig;
  readonly attentionMap: AttentionResNet;
  readonly convInput: Conv2d;
  readonly feature: Sequential;
  readonly convMid: Conv2d;
  readonly reconstruction: Sequential;
  readonly netclass: PreActResEmbExNet;
  /** Probability of the clean-face substitution in training mode (0: never, 1: always). */
  cleanProbability: number;
  readonly generator: Generator;

  constructor(config: FERAttConfig = {}) {
    super();
    const c = (this.config = resolveFERAttConfig(config));
    this.cleanProbability = config.cleanProbability ?? 0.2;
    checkProbability(this.cleanProbability);
    this.generator = config.generator ?? defaultGenerator;
    const w = c.width;
    const f = w / 2;
    this.attentionMap = this.registerModule('attention_map', new AttentionResNet(c.inChannels, w, f));
    this.convInput = this.registerModule('conv_input', new Conv2d(c.inChannels, f, 9, { padding: 4 }));
    this.feature = this.registerModule('feature', new Sequential(...Array.from({ length: 4 }, () => new ResidualBlockSR(f))));
    this.convMid = this.registerModule('conv_mid', new Conv2d(f, f, 3, { padding: 1 }));
    this.reconstruction = this.registerModule('reconstruction', new Sequential(new ConvRelu(f, f), new Conv2d(f, c.inChannels, 1)));
    this.netclass = this.registerModule('netclass', new PreActResEmbExNet(c.inChannels, w, c.dim, c.numClasses));
  }

  /**
   * The official forward(x, x_org): `clean` is x_org, the face without its background, fed to the
   * classifier instead of the attended face with probability `cleanProbability` in training mode.
   */
  forward(x: Tensor, clean?: Tensor): FERAttOutput {
    const { inChannels, inputSize } = this.config;
    const expected = `[N, ${inChannels}, ${inputSize[0]}, ${inputSize[1]}]`;
    if (x.ndim !== 4 || x.shape[1] !== inChannels || x.shape[2] !== inputSize[0] || x.shape[3] !== inputSize[1]) {
      throw new Error(`FERAtt.forward: expected input ${expected}, got [${x.shape}]`);
    }
    if (clean && clean.shape.join() !== x.shape.join()) {
      throw new Error(`FERAtt.forward: clean has shape [${clean.shape}], expected the input's [${x.shape}]`);
    }
    checkProbability(this.cleanProbability);
    const attention = this.attentionMap.forward(x);
    const input = convForward(this.convInput, x);
    const features = convForward(this.convMid, this.feature.forward(input), { residual: input });
    const [convRelu, toImage] = this.reconstruction.layers as [ConvRelu, Conv2d];
    const attended = toImage.forward(convRelu.forward(mul(sigmoid(attention), features)));
    // The draw is made on every training forward that could use it, so that the stream of draws
    // depends only on the sequence of such calls.
    const classifiedClean = this.training && clean !== undefined && this.cleanProbability > 0 && this.generator.random() < this.cleanProbability;
    const { z, logits } = this.netclass.forward(avgPool2d(classifiedClean ? clean! : attended, CLASSIFIER_POOL));
    return { z, logits, attended, attention, features, classifiedClean };
  }

  /**
   * PyTorch's load_state_dict for a module with shared submodules: an entry may come under any of its
   * names (both, as state_dict() writes them, or one); where two names of one tensor are both given,
   * their values must be equal (host data is compared; two different GPU tensors cannot be compared
   * without a readback and are refused). Strict: every tensor must come under at least one name.
   */
  override loadStateDict(dict: StateDict, { strict = true } = {}): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const canonical = canonicalNames(own);
    const merged: StateDict = {};
    const given = new Map<string, string>();
    for (const [name, value] of Object.entries(dict)) {
      const key = canonical.get(name) ?? name;
      const first = given.get(key);
      if (first !== undefined) {
        checkAgree(first, merged[key], name, value);
        continue;
      }
      given.set(key, name);
      merged[key] = value;
    }
    const ownCanonical = Object.fromEntries(Object.entries(own).filter(([name]) => canonical.get(name) === name));
    const result = loadTensors(ownCanonical, merged, { strict, owner: this.constructor.name });
    // A tensor is missing only when none of its names came; report them by every name.
    const missing = Object.keys(own).filter((name) => result.missing.includes(canonical.get(name)!));
    return { missing, unexpected: result.unexpected };
  }
}

function checkProbability(p: number): void {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`FERAtt: cleanProbability must be in [0, 1], got ${String(p)}`);
}

/** Name → the first name of the same tensor (state-dict order: the encoder's own names come first). */
export function canonicalNames(own: Record<string, Tensor>): Map<string, string> {
  const first = new Map<Tensor, string>();
  const out = new Map<string, string>();
  for (const [name, t] of Object.entries(own)) {
    if (!first.has(t)) first.set(t, name);
    out.set(name, first.get(t)!);
  }
  return out;
}

function isTensor(value: StateValue): value is Tensor {
  return 'buffer' in value;
}

/** Two entries for one shared tensor must hold the same values. */
function checkAgree(firstName: string, first: StateValue, name: string, value: StateValue): void {
  const where = `loadStateDict (FERAtt): '${name}' and '${firstName}' name one shared tensor`;
  if (first === value) return;
  if (first.shape.join() !== value.shape.join()) {
    throw new Error(`${where} but have different shapes: [${value.shape}] and [${first.shape}]`);
  }
  if (isTensor(first) || isTensor(value)) {
    throw new Error(`${where}; as two different GPU tensors their agreement cannot be checked without a readback: give one of them, or host data`);
  }
  const a = first.data;
  const b = value.data;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(Number(a[i]), Number(b[i])) && !(a[i] === 0 && b[i] === 0)) {
      throw new Error(`${where} but differ at element ${i}: ${b[i]} and ${a[i]}`);
    }
  }
}
