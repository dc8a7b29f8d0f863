// Exit codes of the command-line contract (SPEC.md) and the error that carries one.
export const EXIT_OK = 0;
export const EXIT_JOBS_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;

export class UsageError extends Error {
  constructor(message: string, readonly exitCode = EXIT_USAGE) {
    super(message);
  }
}
