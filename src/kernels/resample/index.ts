export { interpolate, type InterpolateOptions } from './interpolate.js';
