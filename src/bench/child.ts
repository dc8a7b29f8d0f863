// Entry of a `temper bench` child process: one backend per process (src/backend/index.ts cannot switch backends), so
// `--backend auto` forks one of these per backend. Receives the backend and settings, sends back its BackendResult.
// Progress lines go straight to the inherited stderr.
import { benchOneBackend, type FromBenchChild, type ToBenchChild } from './run.js';

const send = (message: FromBenchChild) =>
  new Promise<void>((resolve) => {
    if (process.send) process.send(message, undefined, {}, () => resolve());
    else resolve();
  });

process.once('message', (message: ToBenchChild) => {
  const log = message.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  benchOneBackend(message.backend, message.settings, log, () => void send({ type: 'loaded' }), message.hardwareOnly)
    .then((result) => send({ type: 'result', result }))
    .catch((error: unknown) => send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }))
    .finally(() => process.disconnect?.());
});
