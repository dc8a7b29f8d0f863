// Statistics over seeds, shared by the tables, the plots and the warnings so they agree to the last digit.

/** Mean and sample standard deviation (n - 1), as papers report over seeds; a single value has std 0. */
export function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((sum, x) => sum + x, 0) / values.length;
  if (values.length < 2) return { mean, std: 0 };
  const variance = values.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (values.length - 1);
  return { mean, std: Math.sqrt(variance) };
}
