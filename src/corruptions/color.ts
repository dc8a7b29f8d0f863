// Photometric corruptions of Hendrycks & Dietterich (ICLR 2019), parameters from make_cifar_c.py: brightness and
// saturate in HSV (skimage's rgb2hsv / hsv2rgb conventions), contrast around each channel's mean.
import { level, type Corruption } from './corruption.js';
import type { Image } from './image.js';

/** Brightness: added to the HSV value. */
const BRIGHTNESS = [0.05, 0.1, 0.15, 0.2, 0.3] as const;
/** Saturate: [factor, offset], saturation -> clip(saturation * factor + offset, 0, 1). */
const SATURATE: readonly [[number, number], [number, number], [number, number], [number, number], [number, number]] = [
  [0.3, 0],
  [0.1, 0],
  [1.5, 0],
  [2, 0.1],
  [2.5, 0.2],
];
/** Contrast: the factor that scales each value's distance from its channel mean. */
const CONTRAST = [0.75, 0.5, 0.4, 0.3, 0.15] as const;

const clip01 = (v: number) => Math.min(1, Math.max(0, v));

/** skimage's rgb2hsv for one pixel: hue in [0, 1), saturation delta / max (0 for black), value max. */
export function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const delta = max - Math.min(r, g, b);
  const saturation = max === 0 ? 0 : delta / max;
  if (delta === 0) return [0, saturation, max];
  let hue = b === max ? 4 + (r - g) / delta : g === max ? 2 + (b - r) / delta : (g - b) / delta;
  hue = (hue / 6) % 1;
  if (hue < 0) hue += 1;
  return [hue, saturation, max];
}

/** skimage's hsv2rgb for one pixel. */
export function hsvToRgb(hue: number, saturation: number, value: number): [number, number, number] {
  const sector = Math.floor(hue * 6);
  const f = hue * 6 - sector;
  const p = value * (1 - saturation);
  const q = value * (1 - f * saturation);
  const t = value * (1 - (1 - f) * saturation);
  switch (((sector % 6) + 6) % 6) {
    case 0:
      return [value, t, p];
    case 1:
      return [q, value, p];
    case 2:
      return [p, value, t];
    case 3:
      return [p, q, value];
    case 4:
      return [t, p, value];
    default:
      return [value, p, q];
  }
}

/** Every RGB pixel mapped through HSV by `change` (inputs clipped to [0, 1] first, as skimage expects). */
function mapHsv(image: Image, change: (hsv: [number, number, number]) => void): Image {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i += 3) {
    const hsv = rgbToHsv(clip01(image.data[i]!), clip01(image.data[i + 1]!), clip01(image.data[i + 2]!));
    change(hsv);
    const [r, g, b] = hsvToRgb(...hsv);
    data[i] = r;
    data[i + 1] = g;
    data[i + 2] = b;
  }
  return { ...image, data };
}

/**
 * Brightness: HSV value + c, clipped to 1. A one-channel image is grey, whose HSV value is the pixel itself, so
 * there it is exactly min(1, x + c).
 */
export const brightness: Corruption = (image, severity) => {
  const c = level(BRIGHTNESS, severity);
  if (image.c === 1) return { ...image, data: image.data.map((v) => Math.min(1, clip01(v) + c)) };
  return mapHsv(image, (hsv) => {
    hsv[2] = clip01(hsv[2] + c);
  });
};

/**
 * Saturate: HSV saturation * factor + offset, clipped to [0, 1]. A one-channel image has no colour to scale, so for it
 * this is a no-op (a copy); the offset of severities 4-5 would only add a tint of the arbitrary hue 0 (red) that a grey
 * image cannot show.
 */
export const saturate: Corruption = (image, severity) => {
  if (image.c === 1) return { ...image, data: Float32Array.from(image.data) };
  const [factor, offset] = level(SATURATE, severity);
  return mapHsv(image, (hsv) => {
    hsv[1] = clip01(hsv[1] * factor + offset);
  });
};

/** Contrast: (x - mean) * c + mean, with the mean of each channel over the image. */
export const contrast: Corruption = (image, severity) => {
  const factor = level(CONTRAST, severity);
  const { c, data } = image;
  const means = new Float64Array(c);
  for (let i = 0; i < data.length; i++) means[i % c]! += data[i]!;
  for (let k = 0; k < c; k++) means[k]! /= data.length / c;
  return { ...image, data: data.map((v, i) => (v - means[i % c]!) * factor + means[i % c]!) };
};
