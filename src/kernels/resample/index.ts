// Resampling: bilinear resizing, affine grids and grid sampling (the spatial transformer), all with backward.
export { interpolate, type InterpolateOptions } from './interpolate.js';
export { affineGrid } from './affine_grid.js';
export { gridSample, type GridSampleOptions } from './grid_sample.js';
