// Noise corruptions of Hendrycks & Dietterich (ICLR 2019), parameters from make_cifar_c.py. Every value (each channel
// of each pixel) gets its own independent draw, as in the reference code.
import { level, type Corruption } from './corruption.js';
import { normalSampler, poisson } from './random.js';

/** Gaussian noise: x + N(0, sigma^2). */
const GAUSSIAN_SIGMA = [0.04, 0.06, 0.08, 0.09, 0.1] as const;
/** Shot noise: Poisson(x * photons) / photons; fewer photons, more noise. */
const SHOT_PHOTONS = [500, 250, 100, 75, 50] as const;
/** Impulse (salt & pepper) noise: the fraction of values replaced, half by 0 and half by 1. */
const IMPULSE_AMOUNT = [0.01, 0.02, 0.03, 0.05, 0.07] as const;
/** Speckle noise: x + x * N(0, sigma^2). */
const SPECKLE_SIGMA = [0.06, 0.1, 0.12, 0.16, 0.2] as const;

export const gaussianNoise: Corruption = (image, severity, random) => {
  const sigma = level(GAUSSIAN_SIGMA, severity);
  const normal = normalSampler(random);
  return { ...image, data: image.data.map((v) => v + sigma * normal()) };
};

export const shotNoise: Corruption = (image, severity, random) => {
  const photons = level(SHOT_PHOTONS, severity);
  const normal = normalSampler(random);
  // Negative inputs have no photon count; they count as 0 (the result is clipped to [0, 1] anyway).
  return { ...image, data: image.data.map((v) => poisson(Math.max(0, v) * photons, random, normal) / photons) };
};

export const impulseNoise: Corruption = (image, severity, random) => {
  const amount = level(IMPULSE_AMOUNT, severity);
  // skimage's random_noise(mode='s&p'): each value is hit with probability `amount`, then salt or pepper evenly.
  return { ...image, data: image.data.map((v) => (random() < amount ? (random() < 0.5 ? 1 : 0) : v)) };
};

export const speckleNoise: Corruption = (image, severity, random) => {
  const sigma = level(SPECKLE_SIGMA, severity);
  const normal = normalSampler(random);
  return { ...image, data: image.data.map((v) => v + v * sigma * normal()) };
};
