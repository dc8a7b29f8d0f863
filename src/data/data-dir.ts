// Where downloaded datasets live: --data-dir, else TEMPER_DATA_DIR, else the user's cache folder.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['TEMPER_DATA_DIR']) return resolve(env['TEMPER_DATA_DIR']);
  return join(env['XDG_CACHE_HOME'] ? resolve(env['XDG_CACHE_HOME']) : join(homedir(), '.cache'), 'temper', 'data');
}
