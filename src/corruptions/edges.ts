// The OpenCV steps of the reference's spatter (make_cifar_c.py), written anew for one 8-bit grey plane: Canny edges
// (cv2.Canny with aperture 3 and the L1 gradient, its defaults), the 5x5 chamfer distance transform (cv2.distanceTransform
// with DIST_L2 and mask 5) and histogram equalisation (cv2.equalizeHist). Each follows OpenCV's integer arithmetic,
// so on the same input they give OpenCV's output.

/** OpenCV's round to nearest for a float (cvRound: halves to even), clamped to 0-255 (saturate_cast<uchar>). */
function toByte(v: number): number {
  const r = Math.round(v);
  const rounded = Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  return rounded < 0 ? 0 : rounded > 255 ? 255 : rounded;
}

/** tan(22.5 degrees) in Q15 fixed point, as cv::Canny compares gradient directions. */
const TG22 = Math.trunc(0.4142135623730950488016887242097 * (1 << 15) + 0.5);

/**
 * cv2.Canny(plane, low, high) with aperture 3 and the L1 gradient: 3x3 Sobel derivatives (edge pixels repeated past
 * the border, as cv::Canny asks of Sobel), magnitude |dx| + |dy|, non-maximum suppression across the gradient in one
 * of four directions (horizontal, vertical, two diagonals; magnitudes outside the image count as 0), then hysteresis:
 * pixels above `high` are edges, and pixels above `low` that survive suppression join them when 8-connected to an
 * edge. `plane` is h * w bytes, row-major; returns 255 on edges, 0 elsewhere. (OpenCV marks pixels in one pass with a
 * left / upper neighbour shortcut; the result is the same as this plain flood fill.)
 */
export function canny(plane: Uint8Array, h: number, w: number, low: number, high: number): Uint8Array {
  if (low > high) [low, high] = [high, low];
  const lowT = Math.floor(low);
  const highT = Math.floor(high);
  const at = (y: number, x: number) => plane[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))]!;
  const dx = new Int32Array(h * w);
  const dy = new Int32Array(h * w);
  const mag = new Int32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const gx = at(y - 1, x + 1) - at(y - 1, x - 1) + 2 * (at(y, x + 1) - at(y, x - 1)) + at(y + 1, x + 1) - at(y + 1, x - 1);
      const gy = at(y + 1, x - 1) - at(y - 1, x - 1) + 2 * (at(y + 1, x) - at(y - 1, x)) + at(y + 1, x + 1) - at(y - 1, x + 1);
      dx[y * w + x] = gx;
      dy[y * w + x] = gy;
      mag[y * w + x] = Math.abs(gx) + Math.abs(gy);
    }
  }
  const magAt = (y: number, x: number) => (y >= 0 && y < h && x >= 0 && x < w ? mag[y * w + x]! : 0);

  // 0: may join an edge, 1: not an edge, 2: edge.
  const map = new Uint8Array(h * w).fill(1);
  const stack: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const m = mag[i]!;
      if (m <= lowT) continue;
      const xs = dx[i]!;
      const ys = dy[i]!;
      const ax = Math.abs(xs);
      const ay = Math.abs(ys) * (1 << 15);
      const tg22x = ax * TG22;
      let keep: boolean;
      if (ay < tg22x) keep = m > magAt(y, x - 1) && m >= magAt(y, x + 1); // gradient near horizontal
      else if (ay > tg22x + ax * (1 << 16)) keep = m > magAt(y - 1, x) && m >= magAt(y + 1, x); // near vertical (tan 67.5 = tan 22.5 + 2)
      else {
        const s = (xs < 0) !== (ys < 0) ? -1 : 1; // the diagonal the gradient runs along
        keep = m > magAt(y - 1, x - s) && m > magAt(y + 1, x + s);
      }
      if (!keep) continue;
      if (m > highT) {
        map[i] = 2;
        stack.push(i);
      } else map[i] = 0;
    }
  }
  while (stack.length > 0) {
    const i = stack.pop()!;
    const y = Math.floor(i / w);
    const x = i - y * w;
    for (let ny = y - 1; ny <= y + 1; ny++) {
      for (let nx = x - 1; nx <= x + 1; nx++) {
        if (ny < 0 || ny >= h || nx < 0 || nx >= w || map[ny * w + nx] !== 0) continue;
        map[ny * w + nx] = 2;
        stack.push(ny * w + nx);
      }
    }
  }
  return map.map((v) => (v === 2 ? 255 : 0));
}

/** OpenCV's fixed point for distances: 16 fractional bits. */
const DIST_ONE = 1 << 16;
/** The 5x5 chamfer steps for DIST_L2 (OpenCV's mask: 1, 1.4 and 2.1969, single precision, in fixed point). */
const HV_STEP = Math.round(Math.fround(1) * DIST_ONE);
const DIAG_STEP = Math.round(Math.fround(1.4) * DIST_ONE);
const KNIGHT_STEP = Math.round(Math.fround(2.1969) * DIST_ONE);
/** The largest distance OpenCV reports (INT_MAX >> 2 in fixed point, about 8192 pixels). */
const DIST_MAX = 0x7fffffff >> 2;

/**
 * cv2.distanceTransform(plane, DIST_L2, 5): for every non-zero pixel the chamfer distance to the nearest zero pixel,
 * with steps 1 (horizontal / vertical), 1.4 (diagonal) and 2.1969 (knight's move), by OpenCV's two raster passes in
 * fixed point. Outside the image is infinitely far, so a plane with no zero pixel is all DIST_MAX / 65536 (about 8192).
 * Returns h * w distances in pixels as float32.
 */
export function distanceTransform(plane: Uint8Array, h: number, w: number): Float32Array {
  const dist = new Float64Array(h * w);
  const at = (y: number, x: number) => (y >= 0 && y < h && x >= 0 && x < w ? dist[y * w + x]! : Infinity);
  const forward: ReadonlyArray<readonly [number, number, number]> = [
    [-2, -1, KNIGHT_STEP],
    [-2, 1, KNIGHT_STEP],
    [-1, -2, KNIGHT_STEP],
    [-1, -1, DIAG_STEP],
    [-1, 0, HV_STEP],
    [-1, 1, DIAG_STEP],
    [-1, 2, KNIGHT_STEP],
    [0, -1, HV_STEP],
  ];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (plane[y * w + x] === 0) continue; // dist is already 0
      let best = Infinity;
      for (const [oy, ox, step] of forward) best = Math.min(best, at(y + oy, x + ox) + step);
      dist[y * w + x] = best;
    }
  }
  const out = new Float32Array(h * w);
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      let best = dist[y * w + x]!;
      if (best > HV_STEP) {
        // The backward mask is the forward one turned half a circle.
        for (const [oy, ox, step] of forward) best = Math.min(best, at(y - oy, x - ox) + step);
        dist[y * w + x] = best;
      }
      out[y * w + x] = Math.min(best, DIST_MAX) / DIST_ONE;
    }
  }
  return out;
}

/**
 * cv2.equalizeHist: each byte value v maps to round(255 * (count of values in (first, v]) / (count of values above the
 * lowest one)), in OpenCV's single-precision arithmetic, so the lowest value present becomes 0. A plane of one value
 * is returned as it is.
 */
export function equalizeHist(plane: Uint8Array): Uint8Array {
  const hist = new Int32Array(256);
  for (const v of plane) hist[v]!++;
  let first = 0;
  while (first < 256 && hist[first] === 0) first++;
  if (first === 256 || hist[first] === plane.length) return Uint8Array.from(plane);
  const scale = Math.fround(255 / (plane.length - hist[first]!));
  const lut = new Uint8Array(256);
  let sum = 0;
  for (let v = first + 1; v < 256; v++) {
    sum += hist[v]!;
    lut[v] = toByte(Math.fround(sum * scale));
  }
  return plane.map((v) => lut[v]!);
}
