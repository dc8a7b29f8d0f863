// JPEG compression of Hendrycks & Dietterich (ICLR 2019), qualities from make_cifar_c.py: encode with jpeg-js at the
// severity's quality and decode back. (The reference used Pillow, whose encoder also subsamples chroma 4:2:0; jpeg-js
// keeps full-resolution chroma, so colour artefacts are somewhat milder at the same quality.)
//
// jpeg-js builds its tables anew for every encode (about 75 ms, even for a 32x32 image), so a batch is encoded as one
// mosaic. That gives the same pixels as encoding each image alone: jpeg-js writes 4:4:4 (one 8x8 block per channel
// and MCU, no chroma resampling), each image sits in its own cell whose sides are multiples of 8, padded by repeating
// its last row and column exactly as jpeg-js pads a lone image, and every 8x8 block is quantised and decoded on its own
// (only the lossless entropy coding links blocks).
import jpeg from 'jpeg-js';
import { level } from './corruption.js';

/** JPEG quality (0-100); lower is worse. */
const QUALITY = [80, 65, 58, 50, 40] as const;
/** Most pixels per mosaic (well under jpeg-js's 100-megapixel decode limit and memory cap). */
const MOSAIC_PIXELS = 4_000_000;

const toByte = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);

/**
 * `n` NHWC images (1 or 3 channels) rounded to 8 bits, through a JPEG of the severity's quality and back. A grey
 * image is repeated into R, G and B and comes back as the mean of the decoded channels (they agree up to rounding).
 */
export function jpegCompression(images: Float32Array, shape: readonly [number, number, number, number], severity: number): Float32Array {
  const [n, h, w, c] = shape;
  if (c !== 1 && c !== 3) throw new Error(`jpeg_compression needs 1 or 3 channels, got ${c}`);
  const quality = level(QUALITY, severity);
  const cellH = Math.ceil(h / 8) * 8;
  const cellW = Math.ceil(w / 8) * 8;
  const perMosaic = Math.max(1, Math.floor(MOSAIC_PIXELS / (cellH * cellW)));
  const out = new Float32Array(images.length);
  const size = h * w * c;

  for (let first = 0; first < n; first += perMosaic) {
    const count = Math.min(perMosaic, n - first);
    const columns = Math.ceil(Math.sqrt(count));
    const rows = Math.ceil(count / columns);
    const width = columns * cellW;
    const height = rows * cellH;
    const rgba = new Uint8Array(width * height * 4).fill(255);
    for (let i = 0; i < count; i++) {
      const top = Math.floor(i / columns) * cellH;
      const left = (i % columns) * cellW;
      const base = (first + i) * size;
      for (let y = 0; y < cellH; y++) {
        const sy = Math.min(y, h - 1); // padding repeats the last row / column, as jpeg-js does at an image's edge
        for (let x = 0; x < cellW; x++) {
          const from = base + (sy * w + Math.min(x, w - 1)) * c;
          const to = ((top + y) * width + left + x) * 4;
          for (let k = 0; k < 3; k++) rgba[to + k] = toByte(images[from + (c === 1 ? 0 : k)]!);
        }
      }
    }
    const encoded = jpeg.encode({ width, height, data: rgba }, quality);
    const decoded = jpeg.decode(encoded.data, { useTArray: true, formatAsRGBA: true });
    if (decoded.width !== width || decoded.height !== height) throw new Error(`jpeg-js gave back ${decoded.width}x${decoded.height} pixels for a ${width}x${height} mosaic`);
    for (let i = 0; i < count; i++) {
      const top = Math.floor(i / columns) * cellH;
      const left = (i % columns) * cellW;
      const base = (first + i) * size;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const from = ((top + y) * width + left + x) * 4;
          const to = base + (y * w + x) * c;
          if (c === 1) out[to] = (decoded.data[from]! + decoded.data[from + 1]! + decoded.data[from + 2]!) / (3 * 255);
          else for (let k = 0; k < 3; k++) out[to + k] = decoded.data[from + k]! / 255;
        }
      }
    }
  }
  return out;
}
