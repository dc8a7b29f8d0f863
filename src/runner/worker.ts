// Entry of a `--jobs` worker process: runs the sweep it is sent, claiming jobs through their locks like any other
// process sharing the folder, and reports finished jobs to the main process, which writes the views at the end.
import { runSweep } from './sweep.js';
import { QuietProgress, type ProgressSink } from './progress.js';
import type { RunRecord } from '../types.js';
import type { FromWorker, ToWorker } from './workers.js';

let stopping = false;
const send = (message: FromWorker) => process.send?.(message);

// Quiet, except that finished jobs and messages go to the main process, which prints them (and counts the jobs).
const forwarding: ProgressSink = Object.assign(new QuietProgress(), {
  jobEnd(record: RunRecord) {
    send({ type: 'jobEnd', record });
  },
  message(text: string) {
    // Lock notices about the main process's own jobs are noise here.
    if (!text.includes('running in another process')) send({ type: 'message', text });
  },
});

process.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    stopping = true;
    return;
  }
  runSweep(message.config, { ...message.options, progress: forwarding, shouldStop: () => stopping, writeViews: false })
    .then((result) => {
      send({ type: 'done', ranIds: result.ranIds });
      process.exitCode = result.interrupted ? 130 : 0;
    })
    .catch((error: unknown) => {
      send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
      process.exitCode = 1;
    })
    .finally(() => process.disconnect());
});
// The main process handles Ctrl-C and tells us to stop; a terminal's SIGINT reaches the whole group.
process.on('SIGINT', () => {
  stopping = true;
});
process.on('SIGTERM', () => {
  stopping = true;
});
