// Statistics over seeds, shared by the tables, the plots and the warnings so they agree to the last digit.
import jstat from 'jstat';

const { jStat } = jstat;

/** Mean and sample standard deviation (n - 1), as papers report over seeds; a single value has std 0. */
export function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((sum, x) => sum + x, 0) / values.length;
  if (values.length < 2) return { mean, std: 0 };
  const variance = values.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (values.length - 1);
  return { mean, std: Math.sqrt(variance) };
}

/** The 0.975 quantile of Student's t with `df` degrees of freedom, the factor of a two-sided 95% interval (jStat). */
export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`tQuantile975: expected a whole number of degrees of freedom >= 1, found ${df}`);
  return jStat.studentt.inv(0.975, df);
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
