// Statistics over seeds, shared by the tables, the plots and the warnings so they agree to the last digit.

/** Mean and sample standard deviation (n - 1), as papers report over seeds; a single value has std 0. */
export function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((sum, x) => sum + x, 0) / values.length;
  if (values.length < 2) return { mean, std: 0 };
  const variance = values.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (values.length - 1);
  return { mean, std: Math.sqrt(variance) };
}

// t_{0.975, df} for df = 1..30 (scipy.stats.t.ppf(0.975, df), 6 decimals): seeds are few, so these are the ones used.
const T_975 = [
  12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139, 2.200985, 2.178813, 2.160369,
  2.144787, 2.13145, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529,
  2.051831, 2.048407, 2.04523, 2.042272,
];
const Z_975 = 1.959963984540054;

/**
 * The 0.975 quantile of Student's t with `df` degrees of freedom, the factor of a two-sided 95% interval.
 * Exact to 6 decimals up to df = 30; beyond, the Cornish-Fisher expansion in 1/df (Abramowitz & Stegun 26.7.5),
 * within 1e-7 of the exact value there. One function, so a library quantile can replace it.
 */
export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`tQuantile975: expected a whole number of degrees of freedom >= 1, found ${df}`);
  if (df <= T_975.length) return T_975[df - 1]!;
  const z = Z_975;
  const g1 = (z ** 3 + z) / 4;
  const g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96;
  const g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384;
  const g4 = (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160;
  return z + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4;
}

/** A two-sided 95% confidence interval. */
export interface Interval {
  low: number;
  high: number;
}

/**
 * The 95% confidence interval of the mean over seeds: mean ± t_{0.975, n-1} · std / sqrt(n) (Student t, sample std).
 * Not clipped to the values' range, so a reader can recompute it from mean, std and n. Null below two values: one seed
 * has no spread to estimate.
 */
export function meanInterval95(values: number[]): Interval | null {
  if (values.length < 2) return null;
  const { mean, std } = meanStd(values);
  const half = (tQuantile975(values.length - 1) * std) / Math.sqrt(values.length);
  return { low: mean - half, high: mean + half };
}

/** The paired difference of two conditions measured on the same seeds. */
export interface PairedDifference {
  /** Seeds measured under both conditions. */
  pairs: number;
  /** Mean of `value - baseline` over the pairs; null without pairs. */
  meanDifference: number | null;
  /** 95% t interval of that mean; null below two pairs. */
  interval: Interval | null;
  /** Whether the interval excludes 0; null when there is no interval. */
  distinguishable: boolean | null;
}

/** d = value - baseline per pair, then its mean and 95% t interval: the paired t test at the 5% level, as an interval. */
export function pairedDifference(pairs: Array<{ value: number; baseline: number }>): PairedDifference {
  const differences = pairs.map(({ value, baseline }) => value - baseline);
  const interval = meanInterval95(differences);
  return {
    pairs: differences.length,
    meanDifference: differences.length === 0 ? null : meanStd(differences).mean,
    interval,
    distinguishable: interval === null ? null : interval.low > 0 || interval.high < 0,
  };
}
