// IDX files (the MNIST layout) written by the tests: an official-format copy with small, predictable contents.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export function idx(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

/** Image i, pixel p has the value (7i + p) mod 256; image i has label i mod 10. */
export function writeIdxSet(folder: string, prefix: string, count: number, gzipped: boolean, side = 28): void {
  mkdirSync(folder, { recursive: true });
  const pixels = Uint8Array.from({ length: count * side * side }, (_, k) => (7 * Math.floor(k / (side * side)) + (k % (side * side))) % 256);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  const write = (name: string, bytes: Buffer) => writeFileSync(join(folder, gzipped ? `${name}.gz` : name), gzipped ? gzipSync(bytes) : bytes);
  write(`${prefix}-images-idx3-ubyte`, idx(2051, [count, side, side], pixels));
  write(`${prefix}-labels-idx1-ubyte`, idx(2049, [count], labels));
}
