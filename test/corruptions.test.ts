import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { join } from 'node:path';
import { CORRUPTION_TYPES, FILE_ONLY_CORRUPTIONS, type GeneratedCorruptionType } from '../src/config/schema.js';
import { corruptImages, findCorruptionFile } from '../src/corruptions/index.js';
import { arange, clippedZoom } from '../src/corruptions/blur.js';
import { hsvToRgb, rgbToHsv } from '../src/corruptions/color.js';
import { canny, distanceTransform, equalizeHist } from '../src/corruptions/edges.js';
import { plasmaFractal } from '../src/corruptions/fog.js';
import { normalSampler, poisson } from '../src/corruptions/random.js';
import { rng } from '../src/util/rng.js';
import { tempDir } from './helpers.js';

type Shape = [number, number, number, number];
const RGB: Shape = [4, 32, 32, 3];
const GREY: Shape = [2, 28, 28, 1];
const SEVERITIES = [1, 2, 3, 4, 5];
const RANDOM_TYPES: GeneratedCorruptionType[] = ['gaussian_noise', 'shot_noise', 'impulse_noise', 'speckle_noise', 'glass_blur', 'motion_blur', 'fog', 'elastic_transform', 'snow', 'spatter'];

/** Random pixels in [0, 1] for `shape`, from a seeded generator. */
function randomImages(shape: Shape, seed = 1): Float32Array {
  const random = rng('corruption-test-images', seed, shape.join('x'));
  return new Float32Array(shape.reduce((a, b) => a * b)).map(() => random());
}

/** Random images smoothed by a 3x3 box, so they have some structure that blurs and shifts change less than pure noise. */
function smoothImages(shape: Shape, seed = 1): Float32Array {
  const [n, h, w, c] = shape;
  const raw = randomImages(shape, seed);
  const out = new Float32Array(raw.length);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) {
          let sum = 0;
          let count = 0;
          for (let dy = -1; dy <= 1; dy++) {
            for (let dx = -1; dx <= 1; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                sum += raw[((i * h + yy) * w + xx) * c + k]!;
                count++;
              }
            }
          }
          out[((i * h + y) * w + x) * c + k] = sum / count;
        }
      }
    }
  }
  return out;
}

const sameBytes = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const meanAbsChange = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0) / a.length;
const mean = (a: Float32Array) => a.reduce((sum, v) => sum + v, 0) / a.length;

/** Standard deviation of each channel of each image, in image-major order. */
function channelStds(images: Float32Array, [n, h, w, c]: Shape): number[] {
  const stds: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) {
      let sum = 0;
      let squares = 0;
      for (let p = 0; p < h * w; p++) {
        const v = images[(i * h * w + p) * c + k]!;
        sum += v;
        squares += v * v;
      }
      const m = sum / (h * w);
      stds.push(Math.sqrt(squares / (h * w) - m * m));
    }
  }
  return stds;
}

/** Mean over RGB pixels of max - min channel: 0 for grey, larger for more saturated colour. */
function colourfulness(images: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < images.length; i += 3) sum += Math.max(images[i]!, images[i + 1]!, images[i + 2]!) - Math.min(images[i]!, images[i + 1]!, images[i + 2]!);
  return sum / (images.length / 3);
}

describe('common corruptions (generated)', () => {
  for (const type of CORRUPTION_TYPES) {
    it(`${type}: every severity gives finite pixels in [0, 1] of the input's length, leaves the input alone, and repeats byte for byte`, () => {
      for (const shape of [RGB, GREY]) {
        const images = smoothImages(shape);
        const before = Float32Array.from(images);
        for (const severity of SEVERITIES) {
          const out = corruptImages(images, shape, type, severity, 7);
          assert.equal(out.length, images.length);
          assert.notEqual(out.buffer, images.buffer, 'output must be a new array');
          for (const v of out) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1, `${type} severity ${severity} [${shape}]: value ${v} outside [0, 1]`);
          assert.ok(sameBytes(images, before), `${type} severity ${severity} [${shape}] modified its input`);
          assert.ok(sameBytes(out, corruptImages(images, shape, type, severity, 7)), `${type} severity ${severity} [${shape}] is not deterministic`);
          // Everything changes the image except saturate on grey images, a documented no-op.
          const change = meanAbsChange(out, images);
          if (type === 'saturate' && shape[3] === 1) assert.ok(sameBytes(out, images), 'saturate on one channel should be a no-op');
          else assert.ok(change > 1e-4, `${type} severity ${severity} [${shape}] barely changed the image (${change})`);
        }
      }
    });
  }

  it('random corruptions differ across seeds; the others ignore the seed', () => {
    for (const shape of [RGB, GREY]) {
      const images = smoothImages(shape);
      for (const type of CORRUPTION_TYPES) {
        const a = corruptImages(images, shape, type, 3, 1);
        const b = corruptImages(images, shape, type, 3, 2);
        if (RANDOM_TYPES.includes(type)) assert.ok(!sameBytes(a, b), `${type} [${shape}] gave the same pixels for seeds 1 and 2`);
        else assert.ok(sameBytes(a, b), `${type} [${shape}] depends on the seed`);
      }
    }
  });

  it('an image is corrupted the same way alone or in a batch', () => {
    const images = smoothImages(RGB);
    const size = 32 * 32 * 3;
    for (const type of RANDOM_TYPES) {
      const batch = corruptImages(images, RGB, type, 4, 5);
      const first = corruptImages(images.slice(0, size), [1, 32, 32, 3], type, 4, 5);
      assert.ok(sameBytes(batch.subarray(0, size), first), type);
    }
  });

  it('jpeg_compression of a batch (one mosaic) equals a jpeg-js round trip of each image alone', () => {
    for (const shape of [[5, 28, 28, 1], [3, 32, 32, 3]] as Shape[]) {
      const [n, h, w, c] = shape;
      const images = smoothImages(shape);
      const size = h * w * c;
      for (const severity of [1, 5]) {
        const batch = corruptImages(images, shape, 'jpeg_compression', severity, 0);
        for (let i = 0; i < n; i++) {
          const rgba = new Uint8Array(h * w * 4).fill(255);
          for (let p = 0; p < h * w; p++) for (let k = 0; k < 3; k++) rgba[p * 4 + k] = Math.round(images[i * size + p * c + (c === 1 ? 0 : k)]! * 255);
          const quality = [80, 65, 58, 50, 40][severity - 1];
          const decoded = jpeg.decode(jpeg.encode({ width: w, height: h, data: rgba }, quality).data, { useTArray: true, formatAsRGBA: true }).data;
          for (let p = 0; p < h * w; p++) {
            const expected = c === 1 ? (decoded[p * 4]! + decoded[p * 4 + 1]! + decoded[p * 4 + 2]!) / (3 * 255) : decoded[p * 4]! / 255;
            assert.equal(batch[i * size + p * c], Math.fround(expected), `[${shape}] severity ${severity} image ${i} pixel ${p}`);
          }
        }
      }
    }
  });

  for (const type of ['gaussian_noise', 'shot_noise', 'impulse_noise', 'speckle_noise', 'contrast', 'pixelate', 'gaussian_blur', 'zoom_blur'] as const) {
    it(`${type}: the mean absolute change from the clean image grows with severity`, () => {
      for (const shape of [RGB, GREY]) {
        const images = type === 'pixelate' ? randomImages(shape) : smoothImages(shape);
        const changes = SEVERITIES.map((severity) => meanAbsChange(corruptImages(images, shape, type, severity, 3), images));
        for (let s = 1; s < changes.length; s++) assert.ok(changes[s]! > changes[s - 1]!, `${type} [${shape}]: changes ${changes.map((v) => v.toFixed(4)).join(', ')}`);
      }
    });
  }

  it('brightness raises the mean brightness, more with each severity', () => {
    for (const shape of [RGB, GREY]) {
      const images = smoothImages(shape);
      const means = [mean(images), ...SEVERITIES.map((severity) => mean(corruptImages(images, shape, 'brightness', severity, 0)))];
      for (let s = 1; s < means.length; s++) assert.ok(means[s]! > means[s - 1]!, `[${shape}] means ${means.map((v) => v.toFixed(4)).join(', ')}`);
    }
  });

  it('brightness on grey images is min(1, x + c)', () => {
    const images = smoothImages(GREY);
    const out = corruptImages(images, GREY, 'brightness', 5, 0);
    out.forEach((v, i) => assert.ok(Math.abs(v - Math.min(1, images[i]! + 0.3)) < 1e-6));
  });

  it('contrast lowers the standard deviation of every channel of every image', () => {
    for (const shape of [RGB, GREY]) {
      const images = smoothImages(shape);
      const clean = channelStds(images, shape);
      for (const severity of SEVERITIES) {
        const stds = channelStds(corruptImages(images, shape, 'contrast', severity, 0), shape);
        stds.forEach((std, i) => assert.ok(std < clean[i]!, `severity ${severity}: std ${std} not below ${clean[i]}`));
      }
    }
  });

  it('saturate drains colour at severities 1-2 and adds colour at 3-5', () => {
    const images = smoothImages(RGB);
    const clean = colourfulness(images);
    for (const severity of SEVERITIES) {
      const colour = colourfulness(corruptImages(images, RGB, 'saturate', severity, 0));
      if (severity <= 2) assert.ok(colour < clean * 0.5, `severity ${severity}: ${colour} vs clean ${clean}`);
      else assert.ok(colour > clean * 1.3, `severity ${severity}: ${colour} vs clean ${clean}`);
    }
  });

  it('HSV conversion inverts and matches known colours', () => {
    assert.deepEqual(rgbToHsv(1, 0, 0), [0, 1, 1]);
    assert.deepEqual(rgbToHsv(0, 0, 0), [0, 0, 0]);
    const [h, s, v] = rgbToHsv(0, 0.5, 1);
    assert.ok(Math.abs(h - 7 / 12) < 1e-12 && s === 1 && v === 1);
    const random = rng('hsv-test');
    for (let i = 0; i < 1000; i++) {
      const rgb = [random(), random(), random()] as const;
      const back = hsvToRgb(...rgbToHsv(...rgb));
      back.forEach((value, k) => assert.ok(Math.abs(value - rgb[k]!) < 1e-12, `${rgb} -> ${back}`));
    }
  });

  it('noise has the severity table strength: gaussian sigma and impulse fraction on a flat grey image', () => {
    const images = new Float32Array(4 * 32 * 32 * 3).fill(0.5);
    const noisy = corruptImages(images, RGB, 'gaussian_noise', 5, 11);
    const std = Math.sqrt(noisy.reduce((sum, v) => sum + (v - 0.5) ** 2, 0) / noisy.length);
    assert.ok(Math.abs(std - 0.1) < 0.005, `gaussian_noise severity 5 std ${std}, expected 0.1`);
    const impulsed = corruptImages(images, RGB, 'impulse_noise', 5, 11);
    const hit = impulsed.filter((v) => v !== 0.5);
    assert.ok(hit.every((v) => v === 0 || v === 1), 'impulse noise sets values to 0 or 1');
    assert.ok(Math.abs(hit.length / impulsed.length - 0.07) < 0.015, `impulse fraction ${hit.length / impulsed.length}, expected 0.07`);
    const salt = hit.filter((v) => v === 1).length / hit.length;
    assert.ok(salt > 0.4 && salt < 0.6, `salt share ${salt}`);
  });

  it('blur kernels keep the total intensity of a dot away from the border', () => {
    const shape: Shape = [1, 32, 32, 3];
    const dot = new Float32Array(32 * 32 * 3);
    for (let k = 0; k < 3; k++) dot[(16 * 32 + 16) * 3 + k] = 0.9;
    for (const type of ['gaussian_blur', 'defocus_blur', 'motion_blur'] as const) {
      for (const severity of SEVERITIES) {
        const out = corruptImages(dot, shape, type, severity, 4);
        const total = out.reduce((sum, v) => sum + v, 0);
        assert.ok(Math.abs(total - 2.7) < 1e-4, `${type} severity ${severity}: total ${total}, expected 2.7`);
        assert.ok(Math.max(...out) < 0.9, `${type} severity ${severity} did not spread the dot`);
      }
    }
  });

  it('pixelate leaves floor(side * factor) distinct columns in each row', () => {
    const images = randomImages([1, 32, 32, 1]);
    const expected = [30, 28, 27, 24, 20];
    for (const severity of SEVERITIES) {
      const out = corruptImages(images, [1, 32, 32, 1], 'pixelate', severity, 0);
      for (let y = 0; y < 32; y++) assert.equal(new Set(out.subarray(y * 32, y * 32 + 32)).size, expected[severity - 1], `severity ${severity} row ${y}`);
    }
  });

  it('zoom factors follow numpy arange, and zooming by 1 is the identity', () => {
    assert.deepEqual([1.06, 1.11, 1.16, 1.21, 1.26].map((stop) => arange(1, stop, 0.01).length), [7, 12, 16, 21, 26]);
    const images = randomImages([1, 32, 32, 3]);
    assert.ok(sameBytes(clippedZoom({ data: images, h: 32, w: 32, c: 3 }, 1).data, images));
  });

  it('the plasma fractal spans [0, 1] and depends on its random stream', () => {
    const a = plasmaFractal(32, 2, rng('plasma', 1));
    const b = plasmaFractal(32, 2, rng('plasma', 2));
    assert.equal(Math.min(...a), 0);
    assert.equal(Math.max(...a), 1);
    assert.ok(a.some((v, i) => v !== b[i]));
    assert.throws(() => plasmaFractal(30, 2, rng('plasma')), /power of two/);
  });

  it('the normal and Poisson samplers have the right mean and variance', () => {
    const random = rng('sampler-test');
    const normal = normalSampler(random);
    const draws = Array.from({ length: 20000 }, normal);
    const m = draws.reduce((a, b) => a + b) / draws.length;
    const variance = draws.reduce((a, b) => a + (b - m) ** 2, 0) / draws.length;
    assert.ok(Math.abs(m) < 0.03 && Math.abs(variance - 1) < 0.05, `normal mean ${m} variance ${variance}`);
    for (const lambda of [0, 0.5, 4, 25, 40, 400]) {
      const counts = Array.from({ length: 20000 }, () => poisson(lambda, random, normal));
      assert.ok(counts.every((k) => Number.isInteger(k) && k >= 0));
      const cm = counts.reduce((a, b) => a + b) / counts.length;
      const cv = counts.reduce((a, b) => a + (b - cm) ** 2, 0) / counts.length;
      const tolerance = 5 * Math.sqrt(lambda / counts.length) + 1e-9;
      assert.ok(Math.abs(cm - lambda) <= tolerance, `poisson(${lambda}) mean ${cm}`);
      assert.ok(Math.abs(cv - lambda) <= 0.1 * lambda + 1e-9, `poisson(${lambda}) variance ${cv}`);
    }
  });

  it('rejects bad severities, shapes and channel counts', () => {
    const images = randomImages(RGB);
    for (const severity of [0, 6, 2.5]) assert.throws(() => corruptImages(images, RGB, 'fog', severity, 0), /severity/);
    assert.throws(() => corruptImages(images, [4, 32, 32, 2], 'fog', 1, 0), /channels/);
    assert.throws(() => corruptImages(images.subarray(1), RGB, 'fog', 1, 0), /do not match/);
  });

  it('snow brightens every image on average, more at severities 2, 4 and 5 than at the one before (2 -> 3 is about level)', () => {
    // Severities 2 and 3 share the blend weight 0.9; 3's thicker noise is offset by its zoom, so neither reliably wins.
    for (const shape of [RGB, GREY]) {
      const [n, h, w, c] = shape;
      const size = h * w * c;
      const images = smoothImages(shape);
      const rises = SEVERITIES.map((severity) => {
        const out = corruptImages(images, shape, 'snow', severity, 9);
        for (let i = 0; i < n; i++) {
          const rise = mean(out.subarray(i * size, (i + 1) * size)) - mean(images.subarray(i * size, (i + 1) * size));
          assert.ok(rise > 0.01, `[${shape}] severity ${severity} image ${i}: mean rose only ${rise}`);
        }
        return mean(out) - mean(images);
      });
      const text = rises.map((v) => v.toFixed(4)).join(', ');
      for (const [lower, higher] of [[1, 2], [2, 4], [3, 4], [4, 5]] as const) assert.ok(rises[higher - 1]! > rises[lower - 1]! + 0.01, `[${shape}] mean rises ${text}`);
    }
  });

  it('snow on a grey RGB image gives every channel the one-channel result', () => {
    const grey = smoothImages(GREY);
    const rgb = new Float32Array(grey.length * 3).map((_, i) => grey[Math.floor(i / 3)]!);
    for (const severity of SEVERITIES) {
      const one = corruptImages(grey, GREY, 'snow', severity, 4);
      const three = corruptImages(rgb, [GREY[0], GREY[1], GREY[2], 3], 'snow', severity, 4);
      three.forEach((v, i) => assert.ok(Math.abs(v - one[Math.floor(i / 3)]!) < 1e-6, `severity ${severity} value ${i}: ${v} vs ${one[Math.floor(i / 3)]}`));
    }
  });

  it('spatter changes a noticeable share of pixels, more with severity within water (1-3) and within mud (4-5), and leaves the rest exactly alone', () => {
    for (const shape of [RGB, GREY]) {
      const [n, h, w, c] = shape;
      const images = smoothImages(shape);
      const shares = SEVERITIES.map((severity) => {
        const out = corruptImages(images, shape, 'spatter', severity, 6);
        let changed = 0;
        let untouched = 0;
        for (let p = 0; p < n * h * w; p++) {
          let most = 0;
          for (let k = 0; k < c; k++) most = Math.max(most, Math.abs(out[p * c + k]! - images[p * c + k]!));
          if (most > 0.01) changed++;
          if (most === 0) untouched++;
        }
        assert.ok(untouched > 0.5 * n * h * w, `[${shape}] severity ${severity}: only ${untouched} pixels untouched`);
        return changed / (n * h * w);
      });
      const text = shares.map((v) => v.toFixed(3)).join(', ');
      assert.ok(shares.every((share) => share > 0.01), `[${shape}] changed shares ${text}`);
      assert.ok(shares[2]! > 0.1, `[${shape}] severity 3 changed only ${shares[2]}`);
      for (const [lower, higher] of [[1, 2], [2, 3], [4, 5]] as const) assert.ok(shares[higher - 1]! > shares[lower - 1]!, `[${shape}] changed shares ${text}`);
    }
  });

  it('spatter water only adds pale turquoise; mud pulls pixels towards brown', () => {
    const images = smoothImages(RGB);
    const brown = [63 / 255, 42 / 255, 20 / 255];
    for (const severity of [1, 2, 3]) {
      const out = corruptImages(images, RGB, 'spatter', severity, 2);
      out.forEach((v, i) => assert.ok(v >= images[i]!, `water severity ${severity} darkened value ${i}`));
      // Turquoise (175, 238, 238) adds less red than green and blue (before clipping at 1).
      let red = 0;
      let green = 0;
      for (let i = 0; i < out.length; i += 3) {
        if (out[i + 1]! < 1 && out[i]! < 1) {
          red += out[i]! - images[i]!;
          green += out[i + 1]! - images[i + 1]!;
        }
      }
      assert.ok(green > red * 1.2, `water severity ${severity}: red ${red}, green ${green}`);
    }
    for (const severity of [4, 5]) {
      const out = corruptImages(images, RGB, 'spatter', severity, 2);
      for (let i = 0; i < out.length; i++) {
        const target = brown[i % 3]!;
        assert.ok(Math.abs(out[i]! - target) <= Math.abs(images[i]! - target) + 1e-6, `mud severity ${severity} value ${i} moved away from brown`);
      }
    }
  });

  it('spatter on a grey image is the grey (OpenCV luma) of spatter on its RGB copy', () => {
    const grey = smoothImages(GREY).map((v) => v * 0.5); // dark enough that water never clips at 1
    const rgb = new Float32Array(grey.length * 3).map((_, i) => grey[Math.floor(i / 3)]!);
    for (const severity of SEVERITIES) {
      const one = corruptImages(grey, GREY, 'spatter', severity, 8);
      const three = corruptImages(rgb, [GREY[0], GREY[1], GREY[2], 3], 'spatter', severity, 8);
      one.forEach((v, p) => {
        const luma = 0.299 * three[p * 3]! + 0.587 * three[p * 3 + 1]! + 0.114 * three[p * 3 + 2]!;
        assert.ok(Math.abs(v - luma) < 1e-5, `severity ${severity} pixel ${p}: ${v} vs ${luma}`);
      });
    }
  });

  it('Canny (OpenCV rules) finds one column at a step, drops weak steps, and keeps weak edges joined to strong ones', () => {
    const h = 20;
    const w = 20;
    const step = (right: (y: number) => number) => Uint8Array.from({ length: h * w }, (_, i) => (i % w >= 10 ? right(Math.floor(i / w)) : 0));
    const edgeColumns = (edges: Uint8Array, y: number) => [...edges.subarray(y * w, (y + 1) * w)].flatMap((v, x) => (v === 255 ? [x] : []));
    // A step of 100: Sobel gives 400 on both sides of it; suppression keeps the first column (m > left, m >= right).
    const strong = canny(step(() => 100), h, w, 50, 150);
    for (let y = 0; y < h; y++) assert.deepEqual(edgeColumns(strong, y), [9], `row ${y}`);
    // A step of 30 (magnitude 120, between the thresholds) alone is no edge, nor is one of 10 (40, below both).
    assert.ok(canny(step(() => 30), h, w, 50, 150).every((v) => v === 0));
    assert.ok(canny(step(() => 10), h, w, 50, 150).every((v) => v === 0));
    // The weak step becomes an edge where it connects to a strong one (hysteresis).
    const mixed = canny(step((y) => (y < 10 ? 30 : 100)), h, w, 50, 150);
    for (let y = 0; y < 8; y++) assert.deepEqual(edgeColumns(mixed, y), [9], `mixed row ${y}`);
    for (let y = 12; y < h; y++) assert.deepEqual(edgeColumns(mixed, y), [9], `mixed row ${y}`);
  });

  it('the chamfer distance transform uses steps 1, 1.4 and 2.1969 and treats the outside as far away', () => {
    const plane = new Uint8Array(9 * 9).fill(255);
    plane[4 * 9 + 4] = 0;
    const dist = distanceTransform(plane, 9, 9);
    const at = (dy: number, dx: number) => dist[(4 + dy) * 9 + 4 + dx]!;
    const expected: Array<[number, number, number]> = [[0, 0, 0], [0, 1, 1], [1, 1, 1.4], [1, 2, 2.1969], [0, 2, 2], [2, 2, 2.8], [0, 4, 4], [-4, -4, 5.6], [3, 1, 1 + 2.1969]];
    for (const [dy, dx, d] of expected) assert.ok(Math.abs(at(dy, dx) - d) < 1e-4, `(${dy}, ${dx}): ${at(dy, dx)}, expected ${d}`);
    assert.ok(distanceTransform(new Uint8Array(16).fill(1), 4, 4).every((d) => d > 8000), 'no zero pixel: everything is at the maximum distance');
  });

  it('histogram equalisation maps the lowest value to 0 and the highest to 255 with rounding to even', () => {
    assert.deepEqual([...equalizeHist(Uint8Array.of(10, 10, 20, 30))], [0, 0, 128, 255]); // 20 -> 127.5 -> 128
    assert.deepEqual([...equalizeHist(Uint8Array.of(7, 7, 7))], [7, 7, 7]);
    assert.deepEqual([...equalizeHist(Uint8Array.of(0, 1, 2, 3, 4, 5))], [0, 51, 102, 153, 204, 255]);
  });

  it('frost is file-only: generating it throws', () => {
    assert.deepEqual([...FILE_ONLY_CORRUPTIONS], ['frost']);
    assert.ok(!(CORRUPTION_TYPES as readonly string[]).includes('frost'));
    assert.throws(() => corruptImages(randomImages(RGB), RGB, 'frost' as GeneratedCorruptionType, 1, 0), /unknown corruption type "frost"/);
  });

  it('handles other image sizes (64x64x3) within [0, 1]', () => {
    const shape: Shape = [1, 64, 64, 3];
    const images = smoothImages(shape);
    for (const type of CORRUPTION_TYPES) {
      const out = corruptImages(images, shape, type, 5, 1);
      assert.equal(out.length, images.length);
      assert.ok(out.every((v) => v >= 0 && v <= 1), type);
      assert.ok(meanAbsChange(out, images) > 1e-4, type);
    }
  });
});

/** A .npy file: header (version 1 or 2) then `data`, in numpy's layout (header padded to 64 bytes, ending in \n). */
function npyBytes(shape: number[], data: Uint8Array, { version = 1, descr = '|u1' } = {}): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const prefix = version === 1 ? 10 : 12;
  const padded = dict + ' '.repeat((64 - ((prefix + dict.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(prefix);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(padded.length, 8);
  else head.writeUInt32LE(padded.length, 8);
  return Buffer.concat([head, Buffer.from(padded, 'latin1'), data]);
}

const IMAGE_BYTES = 32 * 32 * 3;
/** The fixture's byte j of image i (i counts across severities). */
const fixtureByte = (i: number, j: number) => (i * 37 + j * 11) % 256;

function fixtureData(images: number): Uint8Array {
  const data = new Uint8Array(images * IMAGE_BYTES);
  for (let i = 0; i < images; i++) for (let j = 0; j < IMAGE_BYTES; j++) data[i * IMAGE_BYTES + j] = fixtureByte(i, j);
  return data;
}

describe('published CIFAR-C files', () => {
  it('finds <dataDir>/CIFAR-10-C/<type>.npy for cifar10 and reads the right rows of the right severity as /255 floats', () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir, 'CIFAR-10-C'));
      writeFileSync(join(dir, 'CIFAR-10-C', 'fog.npy'), npyBytes([15, 32, 32, 3], fixtureData(15)));
      const file = findCorruptionFile('cifar10', dir, 'fog');
      assert.ok(file);
      assert.equal(file.path, join(dir, 'CIFAR-10-C', 'fog.npy'));
      assert.equal(file.perSeverity, 3);
      const pixels = file.read(2, 1, 2); // severity 2 holds images 3..5; rows 1 and 2 are images 4 and 5
      assert.equal(pixels.length, 2 * IMAGE_BYTES);
      for (let r = 0; r < 2; r++) for (let j = 0; j < IMAGE_BYTES; j++) assert.equal(pixels[r * IMAGE_BYTES + j], Math.fround(fixtureByte(4 + r, j) / 255));
      const last = file.read(5, 2, 1);
      assert.equal(last[IMAGE_BYTES - 1], Math.fround(fixtureByte(14, IMAGE_BYTES - 1) / 255));
      assert.equal(file.read(1, 0, 0).length, 0);
      assert.throws(() => file.read(1, 2, 2), /fog\.npy/);
      assert.throws(() => file.read(6, 0, 1), /severity/);
      // Other types and datasets without published files.
      assert.equal(findCorruptionFile('cifar10', dir, 'contrast'), undefined);
      assert.equal(findCorruptionFile('mnist', dir, 'fog'), undefined);
      assert.equal(findCorruptionFile('cifar100', dir, 'fog'), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the file-only frost.npy (and snow.npy, spatter.npy) in CIFAR-10-C', () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir, 'CIFAR-10-C'));
      assert.equal(findCorruptionFile('cifar10', dir, 'frost'), undefined);
      for (const type of ['frost', 'snow', 'spatter'] as const) writeFileSync(join(dir, 'CIFAR-10-C', `${type}.npy`), npyBytes([10, 32, 32, 3], fixtureData(10)));
      const frost = findCorruptionFile('cifar10', dir, 'frost');
      assert.ok(frost);
      assert.equal(frost.path, join(dir, 'CIFAR-10-C', 'frost.npy'));
      assert.equal(frost.perSeverity, 2);
      assert.equal(frost.read(4, 1, 1)[17], Math.fround(fixtureByte(7, 17) / 255)); // severity 4 holds images 6 and 7
      for (const type of ['snow', 'spatter'] as const) assert.equal(findCorruptionFile('cifar10', dir, type)?.path, join(dir, 'CIFAR-10-C', `${type}.npy`));
      assert.equal(findCorruptionFile('cifar100', dir, 'frost'), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves CIFAR-100-C to cifar100 and cifar100-coarse, and reads version 2 headers', () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir, 'CIFAR-100-C'));
      writeFileSync(join(dir, 'CIFAR-100-C', 'pixelate.npy'), npyBytes([5, 32, 32, 3], fixtureData(5), { version: 2 }));
      for (const dataset of ['cifar100', 'cifar100-coarse']) {
        const file = findCorruptionFile(dataset, dir, 'pixelate');
        assert.ok(file, dataset);
        assert.equal(file.perSeverity, 1);
        assert.equal(file.read(3, 0, 1)[5], Math.fround(fixtureByte(2, 5) / 255));
      }
      assert.equal(findCorruptionFile('cifar10', dir, 'pixelate'), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects files that are not uint8 (N, 32, 32, 3) with N a multiple of 5, naming the file', () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir, 'CIFAR-10-C'));
      const path = join(dir, 'CIFAR-10-C', 'brightness.npy');
      const bad: Array<[string, Buffer]> = [
        ['N not a multiple of 5', npyBytes([14, 32, 32, 3], fixtureData(14))],
        ['one channel', npyBytes([15, 32, 32, 1], new Uint8Array(15 * 32 * 32))],
        ['float32', npyBytes([5, 32, 32, 3], new Uint8Array(5 * IMAGE_BYTES * 4), { descr: '<f4' })],
        ['truncated', npyBytes([15, 32, 32, 3], fixtureData(14))],
        ['not npy', Buffer.from('hello, this is not a numpy file at all')],
      ];
      for (const [why, bytes] of bad) {
        writeFileSync(path, bytes);
        assert.throws(() => findCorruptionFile('cifar10', dir, 'brightness'), (error: Error) => error.message.includes(path), why);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
