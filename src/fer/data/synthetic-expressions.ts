/**
 * The seven expressions of the synthetic faces, as displacements of facial features from neutral,
 * loosely after the FACS action units of each emotion. Face units: the face is about 1.5 wide, v
 * grows downwards, the eyes sit near v = -0.25 and the mouth near v = 0.5. Almost everything that
 * tells the classes apart is in the brows/eyes, the cheeks and the mouth: PCNN's three crop regions.
 */
export interface Expression {
  /** Vertical shift of the brows' inner ends, outer ends and of both (negative = raised). */
  browInner: number;
  browOuter: number;
  browLift: number;
  /** Arch of the brows (raised middle). */
  browArch: number;
  /** Eye opening, relative to the identity's (AU5 widens, AU7 narrows). */
  eyeOpen: number;
  /** Fraction of the lower half of the eye hidden by a raised lower lid (AU6/7: smiling eyes). */
  lowerLid: number;
  /** Raised cheeks (AU6): a highlight on the cheekbones and deeper folds from nose to mouth corners. */
  cheekRaise: number;
  /** Wrinkles across the nose bridge (AU9). */
  noseWrinkle: number;
  /** Lift of the mouth corners (AU12 up, AU15 down), of the mouth opening, width factor, asymmetry. */
  mouthCurve: number;
  mouthOpen: number;
  mouthWidth: number;
  mouthTilt: number;
  /** Upper teeth shown in an open mouth (0..1). */
  teeth: number;
  /** Lip thickness factor (pressed lips of anger are thick and flat). */
  lips: number;
}

export const NEUTRAL: Expression = {
  browInner: 0, browOuter: 0, browLift: 0, browArch: 0.02, eyeOpen: 1, lowerLid: 0, cheekRaise: 0,
  noseWrinkle: 0, mouthCurve: 0, mouthOpen: 0, mouthWidth: 1, mouthTilt: 0, teeth: 0, lips: 1,
};

const change = (delta: Partial<Expression>): Expression => ({ ...NEUTRAL, ...delta });

/** In FER2013's label order. */
export const SYNTHETIC_CLASSES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];

export const EXPRESSIONS: Expression[] = [
  // angry: brows drawn down and together (AU4), narrowed eyes, lips pressed flat (AU23/24).
  change({ browInner: 0.1, browOuter: -0.02, browLift: 0.03, browArch: 0, eyeOpen: 0.65, mouthCurve: -0.03, mouthWidth: 0.8, lips: 1.7 }),
  // disgust: nose wrinkled (AU9), upper lip raised on one side (AU10), cheeks up, brows lowered.
  change({ browInner: 0.05, browLift: 0.04, eyeOpen: 0.6, lowerLid: 0.3, cheekRaise: 0.6, noseWrinkle: 1, mouthCurve: -0.04, mouthOpen: 0.035, mouthWidth: 0.9, mouthTilt: 0.07, teeth: 1 }),
  // fear: inner brows raised and drawn together (AU1+4), eyes wide (AU5), lips stretched (AU20), mouth open.
  change({ browInner: -0.1, browOuter: 0.01, browLift: -0.05, browArch: -0.01, eyeOpen: 1.5, mouthCurve: -0.05, mouthOpen: 0.07, mouthWidth: 1.2, teeth: 1 }),
  // happy: cheeks raised (AU6) narrowing the eyes from below, mouth corners pulled up (AU12), teeth.
  change({ eyeOpen: 0.8, lowerLid: 0.5, cheekRaise: 1, mouthCurve: 0.11, mouthOpen: 0.05, mouthWidth: 1.25, teeth: 1 }),
  // sad: inner brows raised (AU1), outer ends down, mouth corners down (AU15).
  change({ browInner: -0.09, browOuter: 0.05, eyeOpen: 0.75, mouthCurve: -0.09, mouthWidth: 0.9 }),
  // surprise: whole brows raised and arched (AU1+2), eyes wide (AU5), jaw dropped (AU26): a round mouth.
  change({ browLift: -0.13, browArch: 0.06, eyeOpen: 1.6, mouthOpen: 0.15, mouthWidth: 0.65 }),
  NEUTRAL,
];

/** neutral + intensity * (expression - neutral): weaker expressions overlap more with neutral. */
export function blend(expression: Expression, intensity: number): Expression {
  const out = { ...NEUTRAL };
  for (const key of Object.keys(NEUTRAL) as (keyof Expression)[]) {
    out[key] = NEUTRAL[key] + intensity * (expression[key] - NEUTRAL[key]);
  }
  return out;
}
