// Pixelate and elastic transform of Hendrycks & Dietterich (ICLR 2019), parameters from make_cifar_c.py.
import { level, type Corruption } from './corruption.js';
import { blankLike, gaussianBlur, sampleBilinear, spatialScale, type Image } from './image.js';
import { uniform } from './random.js';

/** Pixelate: the fraction of the side the image is shrunk to (relative, so the same at every size). */
const PIXELATE = [0.95, 0.9, 0.85, 0.75, 0.65] as const;

/**
 * Pillow's BOX resampling along one axis, as row lists of (input index, weight): output pixel o covers input
 * coordinates centre +- support with centre (o + 0.5) * in / out and support 0.5 * max(1, in / out), and averages
 * the input pixels whose centres fall in (centre - support, centre + support]. Shrinking averages blocks of about
 * in / out pixels; enlarging picks the nearest pixel.
 */
export function boxResizeTaps(inSize: number, outSize: number): Array<Array<[number, number]>> {
  const scale = inSize / outSize;
  const support = 0.5 * Math.max(1, scale);
  const rows: Array<Array<[number, number]>> = [];
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const first = Math.max(0, Math.floor(centre - support + 0.5));
    const end = Math.min(inSize, Math.floor(centre + support + 0.5));
    const inside: number[] = [];
    for (let i = first; i < end; i++) {
      const offset = i + 0.5 - centre;
      if (offset > -support && offset <= support) inside.push(i);
    }
    rows.push(inside.map((i) => [i, 1 / inside.length]));
  }
  return rows;
}

/** Resizes an image with Pillow-style BOX resampling: along the width, then along the height. */
export function boxResize(image: Image, outH: number, outW: number): Image {
  const { h, w, c, data } = image;
  const across = boxResizeTaps(w, outW);
  const wide = new Float32Array(h * outW * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < outW; x++) {
      for (const [from, weight] of across[x]!) for (let k = 0; k < c; k++) wide[(y * outW + x) * c + k]! += weight * data[(y * w + from) * c + k]!;
    }
  }
  const down = boxResizeTaps(h, outH);
  const out = new Float32Array(outH * outW * c);
  for (let y = 0; y < outH; y++) {
    for (const [from, weight] of down[y]!) {
      for (let x = 0; x < outW; x++) for (let k = 0; k < c; k++) out[(y * outW + x) * c + k]! += weight * wide[(from * outW + x) * c + k]!;
    }
  }
  return { data: out, h: outH, w: outW, c };
}

/** Pixelate: BOX-shrink each side to floor(side * factor) pixels, then BOX-enlarge back (nearest pixel). */
export const pixelate: Corruption = (image, severity) => {
  const factor = level(PIXELATE, severity);
  const small = boxResize(image, Math.max(1, Math.floor(image.h * factor)), Math.max(1, Math.floor(image.w * factor)));
  return boxResize(small, image.h, image.w);
};

/**
 * Elastic transform: [alpha, sigma, affine jitter], as fractions of the side (the reference writes them as
 * IMSIZE * fraction with IMSIZE = 32; here the side is the mean of height and width, so they scale with the image).
 */
const ELASTIC: readonly [[number, number, number], [number, number, number], [number, number, number], [number, number, number], [number, number, number]] = [
  [0, 0, 0.08],
  [0.05, 0.2, 0.07],
  [0.08, 0.06, 0.06],
  [0.1, 0.04, 0.05],
  [0.1, 0.03, 0.03],
];

/** The affine map (x, y) -> (a x + b y + c, d x + e y + f) taking each `from` point to its `to` point, or undefined if the points are collinear. */
export function affineFromPoints(from: ReadonlyArray<readonly [number, number]>, to: ReadonlyArray<readonly [number, number]>): [number, number, number, number, number, number] | undefined {
  const [[x0, y0], [x1, y1], [x2, y2]] = from as [[number, number], [number, number], [number, number]];
  const det = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1);
  if (Math.abs(det) < 1e-9) return undefined;
  // Cramer's rule for [x_i y_i 1] . [p q r] = t_i, once for the x targets and once for the y targets.
  const solve = (t0: number, t1: number, t2: number): [number, number, number] => [
    (t0 * (y1 - y2) - y0 * (t1 - t2) + (t1 * y2 - t2 * y1)) / det,
    (x0 * (t1 - t2) - t0 * (x1 - x2) + (x1 * t2 - x2 * t1)) / det,
    (x0 * (y1 * t2 - y2 * t1) - y0 * (x1 * t2 - x2 * t1) + t0 * (x1 * y2 - x2 * y1)) / det,
  ];
  const [a, b, c] = solve(to[0]![0], to[1]![0], to[2]![0]);
  const [d, e, f] = solve(to[0]![1], to[1]![1], to[2]![1]);
  return [a, b, c, d, e, f];
}

/**
 * Elastic transform, as the reference: (1) a random affine warp: three points around the centre (centre +- side/3)
 * each move by U(-jitter, jitter) per coordinate and the image follows (OpenCV warpAffine, bilinear); (2) a
 * displacement field, uniform noise in [-1, 1] per pixel smoothed by a gaussian of `sigma` (truncated at 3 sigma) and
 * scaled by `alpha`, sampled bilinearly at (y + dy, x + dx). Reflect borders throughout (the reference's warpAffine
 * uses reflect-101).
 */
export const elasticTransform: Corruption = (image, severity, random) => {
  const { h, w } = image;
  const side = spatialScale(h, w) * 32;
  const [alpha, sigma, jitter] = level(ELASTIC, severity).map((fraction) => fraction * side) as [number, number, number];

  const cx = Math.floor(w / 2);
  const cy = Math.floor(h / 2);
  const square = Math.floor(Math.min(h, w) / 3);
  const source: Array<[number, number]> = [
    [cx + square, cy + square],
    [cx + square, cy - square],
    [cx - square, cy - square],
  ];
  const moved = source.map(([x, y]): [number, number] => [x + uniform(random, -jitter, jitter), y + uniform(random, -jitter, jitter)]);
  // Output pixel p shows input pixel M^-1 p, where M moves the source points to the moved ones.
  const inverse = affineFromPoints(moved, source) ?? [1, 0, 0, 0, 1, 0];
  const warped = blankLike(image);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [a, b, c, d, e, f] = inverse;
      sampleBilinear(image, d * x + e * y + f, a * x + b * y + c, warped.data, (y * w + x) * image.c);
    }
  }

  const field = (): Float32Array => {
    const noise: Image = { data: new Float32Array(h * w).map(() => uniform(random, -1, 1)), h, w, c: 1 };
    return gaussianBlur(noise, sigma, 3).data.map((v) => v * alpha);
  };
  const dx = field();
  const dy = field();
  const result = blankLike(image);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) sampleBilinear(warped, y + dy[y * w + x]!, x + dx[y * w + x]!, result.data, (y * w + x) * image.c);
  }
  return result;
};
