/**
 * PCNN's multi-domain fusion (Tian et al. 2025): the five local maps are arranged as the face (eyes
 * side by side, cheeks side by side, mouth below) and resized to the global map's size, exactly as the
 * authors' composition of torch.cat and F.interpolate(mode='bilinear', align_corners=True), in one
 * dispatch forward and one backward (shaders/fusion/*.wgsl).
 */
import { Kernel } from '../../engine/kernel.js';
import { dispatch, workgroups1d } from '../../engine/recorder.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { record } from '../../engine/autograd.js';
import { axisScale } from '../resample/scale.js';
import forwardSource from '../../../shaders/fusion/forward.wgsl';
import backwardSource from '../../../shaders/fusion/backward.wgsl';
import { expectFloat32 } from '../checks.js';

const forwardKernel = new Kernel('fusion_forward', forwardSource);
const backwardKernel = new Kernel('fusion_backward', backwardSource);

const names = ['leftEye', 'rightEye', 'leftCheek', 'rightCheek', 'mouth'] as const;

function checkParts(parts: readonly Tensor[], size: readonly number[]): void {
  const op = 'multiDomainFusion';
  if (size.length !== 2 || size.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`${op}: size must be two positive integers [H, W] (the global map's), got [${size}]`);
  }
  parts.forEach((p, i) => {
    if (p.ndim !== 4 || p.shape[2] < 1 || p.shape[3] < 1) {
      throw new Error(`${op}: ${names[i]} must be a 4-D map (N, C, H, W) with H, W >= 1, got shape [${p.shape}]`);
    }
    expectFloat32(op, names[i], p);
    if (p.shape[0] !== parts[0].shape[0] || p.shape[1] !== parts[0].shape[1]) {
      throw new Error(
        `${op}: ${names[i]} has shape [${p.shape}], but every map must share leftEye's batch and channels ` +
          `[${parts[0].shape.slice(0, 2)}]`,
      );
    }
  });
  for (const [left, right] of [[0, 1], [2, 3]]) {
    if (parts[left].shape[2] !== parts[right].shape[2]) {
      throw new Error(
        `${op}: ${names[left]} [${parts[left].shape}] and ${names[right]} [${parts[right].shape}] are concatenated ` +
          `along the width and need the same height`,
      );
    }
  }
}

/**
 * x10 of the official code, for local maps [N, C, H_k, W_k] and the global map's size [gh, gw]:
 *   eyes   = interpolate(cat([leftEye, rightEye], 3), [eyesH, gw]); cheeks likewise;
 *   mouth' = mouth if its width is gw, else interpolate(mouth, [mouthH, gw]);
 *   out    = interpolate(cat([eyes, cheeks, mouth'], 2), [gh, gw]), all bilinear, alignCorners.
 */
export function multiDomainFusion(
  leftEye: Tensor,
  rightEye: Tensor,
  leftCheek: Tensor,
  rightCheek: Tensor,
  mouth: Tensor,
  size: readonly [number, number],
): Tensor {
  const parts = [leftEye, rightEye, leftCheek, rightCheek, mouth];
  checkParts(parts, size);
  const [n, c, eyesH, leftEyeW] = leftEye.shape;
  const [, , cheeksH, leftCheekW] = leftCheek.shape;
  const [, , mouthH, mouthW] = mouth.shape;
  const rightEyeW = rightEye.shape[3];
  const rightCheekW = rightCheek.shape[3];
  const [outH, outW] = size;
  const uniforms = {
    planes: n * c,
    outH,
    outW,
    eyesH,
    leftEyeW,
    rightEyeW,
    cheeksH,
    leftCheekW,
    rightCheekW,
    mouthH,
    mouthW,
    eyesScale: axisScale(leftEyeW + rightEyeW, outW, true),
    cheeksScale: axisScale(leftCheekW + rightCheekW, outW, true),
    // A mouth already outW wide is stacked as is: axisScale makes that axis the identity.
    mouthScale: axisScale(mouthW, outW, true),
    stackScale: axisScale(eyesH + cheeksH + mouthH, outH, true),
  };
  const out = empty([n, c, outH, outW], 'float32', 'multiDomainFusion');
  dispatch(forwardKernel, {
    workgroups: workgroups1d(Math.ceil(out.size / forwardKernel.workgroupInvocations)),
    buffers: { leftEye, rightEye, leftCheek, rightCheek, mouth, fused: out },
    uniforms,
  });
  return record(out, 'multiDomainFusion', parts, (dfused) => {
    // All five gradients come from one dispatch, so all are made even where an input needs none.
    const grads = parts.map((p, i) => empty(p.shape, 'float32', `multiDomainFusion backward ${names[i]}`));
    const total = grads.reduce((sum, g) => sum + g.size, 0);
    dispatch(backwardKernel, {
      workgroups: workgroups1d(Math.ceil(total / backwardKernel.workgroupInvocations)),
      buffers: {
        dfused,
        dleftEye: grads[0],
        drightEye: grads[1],
        dleftCheek: grads[2],
        drightCheek: grads[3],
        dmouth: grads[4],
      },
      uniforms,
    });
    return grads.map((g, i) => {
      if (parts[i].requiresGrad) return g;
      g.dispose();
      return null;
    });
  });
}
