// Reading the published CIFAR-10-C / CIFAR-100-C files (Hendrycks & Dietterich, ICLR 2019): numpy .npy arrays of
// uint8, shape (50000, 32, 32, 3), severity 1 first with 10,000 images each. Only the header is read up front; images
// are read from their byte offset when asked for, so the 150 MB files are never loaded whole.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** What a .npy header says: element type, memory order, shape, and where the data begins. */
export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  dataOffset: number;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** Reads exactly `length` bytes at `position`, or throws naming `path` if the file ends first. */
function readExactly(fd: number, path: string, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const got = readSync(fd, buffer, done, length - done, position + done);
    if (got === 0) throw new Error(`${path}: file ends at byte ${position + done}, expected ${length} bytes from byte ${position}`);
    done += got;
  }
  return buffer;
}

/**
 * The header of the .npy file open as `fd`: magic "\x93NUMPY", version (1: 2-byte header length; 2 and 3: 4-byte),
 * then a Python dict literal such as {'descr': '|u1', 'fortran_order': False, 'shape': (50000, 32, 32, 3), }.
 */
export function readNpyHeader(fd: number, path: string): NpyHeader {
  const start = readExactly(fd, path, 0, 10);
  if (!start.subarray(0, 6).equals(MAGIC)) throw new Error(`${path}: not a .npy file (no \\x93NUMPY magic)`);
  const major = start[6]!;
  if (major !== 1 && major !== 2 && major !== 3) throw new Error(`${path}: unsupported .npy format version ${major}.${start[7]}`);
  const lengthBytes = major === 1 ? 2 : 4;
  const prefix = readExactly(fd, path, 0, 8 + lengthBytes);
  const headerLength = major === 1 ? prefix.readUInt16LE(8) : prefix.readUInt32LE(8);
  const headerStart = 8 + lengthBytes;
  const text = readExactly(fd, path, headerStart, headerLength).toString(major === 3 ? 'utf8' : 'latin1');

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`${path}: unreadable .npy header ${JSON.stringify(text.trim())}`);
  const shape = shapeText
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      if (!/^\d+$/.test(part)) throw new Error(`${path}: bad dimension "${part}" in .npy shape (${shapeText})`);
      return Number(part);
    });
  return { descr, fortranOrder: fortran === 'True', shape, dataOffset: headerStart + headerLength };
}

/** Side and channels of the published CIFAR-C images. */
export const CIFAR_C_IMAGE: readonly [number, number, number] = [32, 32, 3];
/** Severities per file. */
export const CIFAR_C_SEVERITIES = 5;

/** A CIFAR-C .npy file whose header has been checked; images are read lazily. */
export interface CifarCFile {
  path: string;
  perSeverity: number;
  read(severity: number, start: number, count: number): Float32Array;
}

/**
 * Opens a CIFAR-C .npy file, checks it holds uint8 C-order images of shape (N, 32, 32, 3) with N a multiple of 5
 * and that the file is long enough, and returns a reader. Throws an Error naming the file otherwise.
 */
export function openCifarC(path: string): CifarCFile {
  const fd = openSync(path, 'r');
  let header: NpyHeader;
  let fileSize: number;
  try {
    header = readNpyHeader(fd, path);
    fileSize = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  const { descr, fortranOrder, shape, dataOffset } = header;
  const expected = `uint8 images of shape (N, ${CIFAR_C_IMAGE.join(', ')}) with N a multiple of ${CIFAR_C_SEVERITIES} (the published CIFAR-10-C / CIFAR-100-C layout)`;
  if (!/^[|<>=]?u1$/.test(descr)) throw new Error(`${path}: element type '${descr}', expected ${expected}`);
  if (fortranOrder) throw new Error(`${path}: Fortran-ordered array, expected C-ordered ${expected}`);
  const [n, ...image] = shape;
  if (n === undefined || n === 0 || n % CIFAR_C_SEVERITIES !== 0 || image.length !== 3 || image.some((side, i) => side !== CIFAR_C_IMAGE[i])) {
    throw new Error(`${path}: shape (${shape.join(', ')}), expected ${expected}`);
  }
  const imageBytes = CIFAR_C_IMAGE[0] * CIFAR_C_IMAGE[1] * CIFAR_C_IMAGE[2];
  if (fileSize < dataOffset + n * imageBytes) throw new Error(`${path}: ${fileSize} bytes, too short for shape (${shape.join(', ')}) (needs ${dataOffset + n * imageBytes})`);
  const perSeverity = n / CIFAR_C_SEVERITIES;

  return {
    path,
    perSeverity,
    read(severity, start, count) {
      if (!Number.isInteger(severity) || severity < 1 || severity > CIFAR_C_SEVERITIES) throw new Error(`${path}: severity must be 1-${CIFAR_C_SEVERITIES}, got ${severity}`);
      if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > perSeverity) {
        throw new Error(`${path}: images ${start}..${start + count - 1} asked for, but each severity has ${perSeverity} (0..${perSeverity - 1})`);
      }
      const readFd = openSync(path, 'r');
      try {
        const bytes = readExactly(readFd, path, dataOffset + ((severity - 1) * perSeverity + start) * imageBytes, count * imageBytes);
        const pixels = new Float32Array(bytes.length);
        for (let i = 0; i < bytes.length; i++) pixels[i] = bytes[i]! / 255;
        return pixels;
      } finally {
        closeSync(readFd);
      }
    },
  };
}
