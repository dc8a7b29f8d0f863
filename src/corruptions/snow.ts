// Snow of Hendrycks & Dietterich (ICLR 2019), parameters from make_cifar_c.py: a layer of flakes from thresholded,
// zoomed normal noise, streaked by a motion blur, added twice (as it is and turned half a circle) to a brightened image.
import { level, type Corruption } from './corruption.js';
import { clippedZoom, motionBlurImage } from './blur.js';
import { spatialScale, type Image } from './image.js';
import { normalSampler, uniform } from './random.js';

type SnowLevel = [number, number, number, number, number, number, number];
/**
 * Snow: [noise mean, noise std, zoom factor, threshold, motion-blur radius, motion-blur sigma, blend weight]. Below
 * the threshold the zoomed noise is no snow; the blend weight keeps that much of the image (the rest is the
 * brightened image).
 */
const SNOW: readonly [SnowLevel, SnowLevel, SnowLevel, SnowLevel, SnowLevel] = [
  [0.1, 0.2, 1, 0.6, 8, 3, 0.95],
  [0.1, 0.2, 1, 0.5, 10, 4, 0.9],
  [0.15, 0.3, 1.75, 0.55, 10, 4, 0.9],
  [0.25, 0.3, 2.25, 0.6, 12, 6, 0.85],
  [0.3, 0.3, 1.25, 0.65, 14, 12, 0.8],
];

/** OpenCV's RGB -> grey weights (cv2.COLOR_RGB2GRAY), as the reference brightens by grey level. */
export const GREY_WEIGHTS = [0.299, 0.587, 0.114] as const;

/**
 * The snow layer, h * w values in [0, 1]: N(mean, std) noise on a grid of the 32x32 image's grain, the centre
 * enlarged by the zoom factor to h x w with the reference's clipped_zoom (bilinear), values below the threshold set to
 * 0, clipped to [0, 1], then motion-blurred at an angle drawn uniformly in [-135, -45) degrees (the streaks fall
 * roughly downwards). One noise cell is one pixel at 32x32 and smaller; on larger images the grid is side /
 * spatialScale cells, so flakes cover the same share of the image at every size (per-pixel noise zoomed by the same
 * factor would give ever finer, sparser flakes). Motion-blur radius and sigma scale with the image.
 */
export function snowLayer(h: number, w: number, severity: number, random: () => number): Float32Array {
  const [mean, std, zoom, threshold, radius, sigma] = level(SNOW, severity);
  const scale = spatialScale(h, w);
  const cells = Math.max(1, scale);
  const gridH = Math.max(1, Math.round(h / cells));
  const gridW = Math.max(1, Math.round(w / cells));
  const normal = normalSampler(random);
  const noise: Image = { data: new Float32Array(gridH * gridW).map(() => mean + std * normal()), h: gridH, w: gridW, c: 1 };
  const zoomed = clippedZoom(noise, zoom, h, w);
  const flakes = zoomed.data.map((v) => (v < threshold ? 0 : Math.min(1, v)));
  return motionBlurImage({ ...zoomed, data: flakes }, radius * scale, sigma * scale, uniform(random, -135, -45)).data;
}

/**
 * Snow, as the reference: x' = blend * x + (1 - blend) * max(x, grey(x) * 1.5 + 0.5) per channel, with grey(x) the
 * OpenCV luma of the pixel (the pixel itself for one channel), plus the snow layer and the snow layer turned 180
 * degrees. The reference rounds the layer to 8 bits before and after ImageMagick's motion blur; that rounding is left
 * out here, as is ImageMagick's edge-repeating border (reflect borders, see motionBlurImage).
 */
export const snow: Corruption = (image, severity, random) => {
  const blend = level(SNOW, severity)[6];
  const { h, w, c, data } = image;
  const layer = snowLayer(h, w, severity, random);
  const out = new Float32Array(data.length);
  for (let p = 0; p < h * w; p++) {
    const grey = c === 1 ? data[p]! : GREY_WEIGHTS[0] * data[p * 3]! + GREY_WEIGHTS[1] * data[p * 3 + 1]! + GREY_WEIGHTS[2] * data[p * 3 + 2]!;
    const bright = grey * 1.5 + 0.5;
    const flakes = layer[p]! + layer[h * w - 1 - p]!; // p and its point reflection through the centre
    for (let k = 0; k < c; k++) {
      const v = data[p * c + k]!;
      out[p * c + k] = blend * v + (1 - blend) * Math.max(v, bright) + flakes;
    }
  }
  return { ...image, data: out };
};
