// The backend's error type, apart so that every backend module can throw it: the CLI prints its message alone and
// exits 2 (bad usage).
export class BackendError extends Error {}
