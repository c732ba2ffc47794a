/** PCNN's data layer (CPU side): decoding, datasets, synthetic faces, augmentation, batching. */
export * from './types.js';
export { decodeImage, toChannels, resizeBilinear, resizeAntialiased, prepareImage, type Image } from './image.js';
export { imageFolder } from './image-folder.js';
export { fer2013Csv, FER2013_CLASSES, type Fer2013Options, type Fer2013Usage } from './fer2013.js';
export { ferPlus, majorityVote, FERPLUS_CLASSES, type FerPlusResult } from './ferplus.js';
export { rafDb, RAFDB_CLASSES, type RafDbOptions } from './rafdb.js';
export { ckplus48, subjectFolds, subjectSplit } from './ckplus.js';
export { syntheticFaces, syntheticFace, syntheticLabel, syntheticDataset, syntheticMask, SYNTHETIC_CLASSES, type SyntheticOptions, type SyntheticDatasetOptions, type SyntheticFaces } from './synthetic.js';
export {
  compositeDataset, STILL_COMPOSITES, composeFace, randomGeometry, outputToFace, matchIllumination, illuminationRatio, rgbToLab, labToRgb, rangeNorm,
  ellipseMask, FACE_ELLIPSE, jitterComposite, gaussianBlur,
  type CompositeDataset, type CompositeOptions, type CompositeSample, type CompositeBatch, type CompositeParts, type ComposeOptions,
  type GeometryOptions, type JitterOptions, type FaceEllipse, type MaskSource, type MaskedSample, type IlluminationMatch, type Affine,
} from './composite.js';
export { proceduralBackgrounds, mixedBackgrounds, backgroundFolder, drawBackground, BACKGROUND_FAMILIES, type BackgroundSource, type BackgroundDraw, type BackgroundFamily, type BackgroundFolderOptions } from './backgrounds.js';
export { hflip, normalize, randomErasing, erasingBox, fillBox, augment, evalTransform, type AugmentOptions, type ErasingOptions, type Shape } from './augment.js';
export { rotate, translate } from './warp.js';
export { occludeRegion, occludeEyes, occludeMouth, occludePatch, rotateBy, EYES, MOUTH, type Region } from './robustness.js';
export { DataLoader, sampleAt, type Dataset, type Transform, type LoaderOptions, type Batch } from './loader.js';
export { encodePng, contactSheet } from './contact-sheet.js';
export { mixSeed } from './seed.js';
