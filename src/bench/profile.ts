// `temper bench --profile`: one more step of a measurement under tf.profile, and where its time goes, per kernel name.
import * as tf from '@tensorflow/tfjs';
import { alignColumns, plural } from '../util/text.js';

/** Kernel names in a profile's table unless --profile-top says otherwise; the rest are summed in one line. */
export const DEFAULT_PROFILE_TOP = 15;

/** One kernel name's part of a profiled step. */
export interface KernelStat {
  /** The kernel, or the scope of an op made of other kernels (e.g. FastBatchNormTraining). */
  name: string;
  calls: number;
  /** Own time of its calls: without the kernels they ran inside them, which count under their own names. null: untimed. */
  ms: number | null;
  /** ms over the step's kernel ms (the shares of a step sum to 1); null when untimed. */
  share: number | null;
  /** Growth of tf.memory().numBytes over its calls, as tfjs records it (for an op made of kernels, theirs included). */
  bytesAdded: number;
}

/** One step run under tf.profile after the timed ones (not among them). */
export interface StepProfile {
  /** The step's wall time under profiling. */
  wallMs: number;
  /** Kernels the step ran, those run inside other kernels included. */
  kernelCount: number;
  /** False where the backend gives no kernel times (then every ms and share is null). */
  timed: boolean;
  /** Why kernel times are unavailable; null when timed. */
  untimedReason: string | null;
  /** Time in kernels: the sum of `ms` over kernels (at most wallMs, the rest being JavaScript between kernels); null when untimed. */
  kernelMs: number | null;
  /** Tensors the step left behind: 0 in steady state. */
  newTensors: number;
  /** Every kernel name the step ran, the most time first (untimed: the most calls first). */
  kernels: KernelStat[];
}

/** One kernel call as tf.profile records it, with how deep in other kernels it ran (0: called by the step itself). */
export interface KernelCall {
  name: string;
  kernelTimeMs: number | { error: string };
  bytesAdded: number;
  depth: number;
}

/**
 * Per kernel name: calls, own time, bytes added, and the step's kernel time. tf.profile lists a kernel called inside
 * another (an op such as FastBatchNormTraining runs tf ops in its kernel function) before the one around it, whose time
 * includes its own, so each call keeps only the time its directly nested calls did not account for.
 * `untimedReason` (e.g. a webgpu device without timestamp queries, where tfjs reports 0 for every kernel) makes the
 * result untimed; so does any time that is not a number (tfjs's `{error}`), and zero time over the whole step.
 */
export function summarizeKernels(calls: KernelCall[], untimedReason: string | null = null): Pick<StepProfile, 'timed' | 'untimedReason' | 'kernelMs' | 'kernels'> {
  const failed = calls.find((call) => typeof call.kernelTimeMs !== 'number' || !Number.isFinite(call.kernelTimeMs));
  if (untimedReason === null && failed !== undefined) {
    const error = typeof failed.kernelTimeMs === 'object' && failed.kernelTimeMs !== null ? failed.kernelTimeMs.error : String(failed.kernelTimeMs);
    untimedReason = `tfjs gives no kernel times here (${error})`;
  }
  const timeOf = (call: KernelCall) => (untimedReason === null ? (call.kernelTimeMs as number) : 0);
  // nested[d]: time of the calls at depth d not yet claimed by the call around them (at depth d - 1).
  const nested: number[] = [];
  const stats = new Map<string, { calls: number; ms: number; bytesAdded: number }>();
  for (const call of calls) {
    const inner = nested[call.depth + 1] ?? 0;
    nested[call.depth + 1] = 0;
    nested[call.depth] = (nested[call.depth] ?? 0) + timeOf(call);
    const stat = stats.get(call.name) ?? { calls: 0, ms: 0, bytesAdded: 0 };
    stat.calls++;
    stat.ms += Math.max(0, timeOf(call) - inner);
    stat.bytesAdded += call.bytesAdded;
    stats.set(call.name, stat);
  }
  const total = [...stats.values()].reduce((sum, stat) => sum + stat.ms, 0);
  if (untimedReason === null && calls.length > 0 && total === 0) untimedReason = 'tfjs reported 0 ms for every kernel';
  const timed = untimedReason === null;
  const kernels = [...stats].map(([name, stat]) => ({
    name,
    calls: stat.calls,
    ms: timed ? stat.ms : null,
    share: timed ? stat.ms / total : null,
    bytesAdded: stat.bytesAdded,
  }));
  kernels.sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0) || b.calls - a.calls || a.name.localeCompare(b.name));
  return { timed, untimedReason, kernelMs: timed ? total : null, kernels };
}

/** Why this backend's kernel times mean nothing, before profiling; null where they are measured. */
function backendUntimedReason(): string | null {
  // tfjs-webgpu times kernels with timestamp queries and reports 0 ms where the device lacks them (duck-typed: its
  // backend class is not in @tensorflow/tfjs).
  const backend = tf.backend() as unknown as { supportTimestampQuery?: boolean };
  if (tf.getBackend() === 'webgpu' && backend.supportTimestampQuery === false) return 'the webgpu device has no timestamp-query feature';
  return null;
}

/**
 * Runs `step` once under tf.profile. The engine's kernel depth at the moment tf.profile records a call tells a kernel
 * called by the step from one called inside another: tf.profile starts a fresh list just before calling its query,
 * which counts them as they are added (tfjs 4.22's engine; elsewhere every call counts as depth 0).
 */
export async function profileStep(step: () => Promise<void>): Promise<StepProfile> {
  const engine = tf.engine();
  const untimedReason = backendUntimedReason();
  const depths: number[] = [];
  let wallMs = 0;
  try {
    const info = await tf.profile(async () => {
      const list = engine.state?.activeProfile?.kernels;
      if (Array.isArray(list)) {
        const push = list.push.bind(list);
        list.push = (...items) => {
          for (let i = 0; i < items.length; i++) depths.push(engine.state.kernelDepth);
          return push(...items);
        };
      }
      const started = performance.now();
      await step();
      wallMs = performance.now() - started;
    });
    const calls = info.kernels.map((kernel, i) => ({
      name: kernel.name,
      kernelTimeMs: kernel.kernelTimeMs as KernelCall['kernelTimeMs'],
      bytesAdded: kernel.bytesAdded,
      depth: depths.length === info.kernels.length ? depths[i]! : 0,
    }));
    const { timed, untimedReason: why, kernelMs, kernels } = summarizeKernels(calls, untimedReason);
    return { wallMs, kernelCount: calls.length, timed, untimedReason: why, kernelMs, newTensors: info.newTensors, kernels };
  } finally {
    // tf.profile leaves profiling on when its query throws: every later kernel would be profiled.
    if (engine.state) engine.state.profiling = false;
  }
}

/** A profile as a heading line and a table of the `top` kernel names with the most time (or calls), then one line for the rest. */
export function formatProfile(label: string, profile: StepProfile, top: number): string[] {
  const ms = (value: number | null) => (value === null ? '-' : value.toFixed(1));
  const share = (value: number | null) => (value === null ? '-' : `${(value * 100).toFixed(1)}%`);
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  const inKernels = profile.timed
    ? `${ms(profile.kernelMs)} ms in kernels`
    : `kernel times unavailable: ${profile.untimedReason}; counts only`;
  const left = profile.newTensors === 0 ? '' : `, ${plural(profile.newTensors, 'tensor')} left behind`;
  const lines = [`${label}: ${plural(profile.kernelCount, 'kernel')}, ${ms(profile.wallMs)} ms wall, ${inKernels}${left}`];
  const rows: string[][] = [['kernel', 'calls', 'ms', 'share', 'MiB added']];
  const row = (name: string, stats: KernelStat[]) => {
    const sum = (pick: (stat: KernelStat) => number) => stats.reduce((total, stat) => total + pick(stat), 0);
    rows.push([name, String(sum((s) => s.calls)), profile.timed ? ms(sum((s) => s.ms!)) : '-', profile.timed ? share(sum((s) => s.share!)) : '-', mib(sum((s) => s.bytesAdded))]);
  };
  for (const stat of profile.kernels.slice(0, top)) row(stat.name, [stat]);
  const rest = profile.kernels.slice(top);
  if (rest.length > 0) row(`other (${plural(rest.length, 'kernel name')})`, rest);
  lines.push(...alignColumns(rows, new Set([1, 2, 3, 4])));
  return lines;
}
