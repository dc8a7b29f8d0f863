// `--jobs N`: N - 1 worker processes beside the main one, each with its own tfjs backend. Every process walks the same
// list of jobs and claims each through its lock (see lock.ts), so a job runs exactly once and the workers share the
// grid dynamically; results are the same as with one process because every job is deterministic on its own.
import { fork, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ExperimentConfig } from '../config/schema.js';
import type { LockInfo } from './lock.js';
import type { SweepOptions } from './sweep.js';
import type { RunRecord } from '../types.js';

/** What the main process sends a worker. */
export type ToWorker = { type: 'start'; config: ExperimentConfig; options: WorkerSweepOptions } | { type: 'stop' };
/** What a worker sends back. */
export type FromWorker =
  | { type: 'message'; text: string }
  | { type: 'jobEnd'; record: RunRecord }
  | { type: 'done'; ranIds: string[] }
  | { type: 'error'; message: string };

/** What the main process hears from its workers; `worker` names the one that spoke ("worker 2"). */
export interface WorkerEvents {
  onMessage(text: string): void;
  onJobEnd(record: RunRecord, worker: string): void;
}

/** The sweep options that cross the process boundary (no functions, no progress sink). */
export type WorkerSweepOptions = Omit<SweepOptions, 'progress' | 'shouldStop' | 'jobs' | 'onWorkersStarted'>;

export interface WorkerPool {
  pids: number[];
  /** Asks every worker to stop after saving what it finished (SIGINT/SIGTERM of the main process). */
  stop(): void;
  /** Resolves when every worker has exited, to the run ids of the jobs they ran. Rejects if one crashed. */
  done: Promise<string[]>;
}

const WORKER_ENTRY = fileURLToPath(new URL('./worker.js', import.meta.url));

export function startWorkers(count: number, config: ExperimentConfig, options: WorkerSweepOptions, events: WorkerEvents): WorkerPool {
  const children: ChildProcess[] = [];
  const finished = Array.from({ length: count }, (_, i) => {
    // stdout is ours alone (tables, --json); a worker's stderr still reaches the terminal for crashes.
    const child = fork(WORKER_ENTRY, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.push(child);
    return new Promise<string[]>((resolve, reject) => {
      let ran: string[] = [];
      let failure: string | undefined;
      child.on('message', (message: FromWorker) => {
        if (message.type === 'message') events.onMessage(`worker ${i + 2}: ${message.text}`);
        else if (message.type === 'jobEnd') events.onJobEnd(message.record, `worker ${i + 2}`);
        else if (message.type === 'done') ran = message.ranIds;
        else failure = message.message;
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (failure !== undefined || (code !== 0 && code !== 130 && code !== 143)) {
          reject(new Error(`worker ${i + 2} (pid ${child.pid}) ${failure ?? `exited with ${signal ?? code}`}`));
        } else {
          resolve(ran);
        }
      });
      child.send({ type: 'start', config, options } satisfies ToWorker);
    });
  });
  return {
    pids: children.map((child) => child.pid!).filter((pid) => pid !== undefined),
    stop: () => {
      for (const child of children) if (child.connected) child.send({ type: 'stop' } satisfies ToWorker);
    },
    done: Promise.all(finished).then((lists) => lists.flat()),
  };
}

/** True when a lock is held by one of this sweep's own workers (not worth a "running elsewhere" message). */
export function heldByPool(holder: LockInfo | undefined, pids: number[]): boolean {
  return holder !== undefined && holder.hostname === hostname() && pids.includes(holder.pid);
}
