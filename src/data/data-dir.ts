// Where datasets live: the data folder (--data-dir, else TEMPER_DATA_DIR, else the user's cache folder), where
// `temper data fetch` writes and which is searched first; then the read-only system dataset folders, where
// distribution packages install datasets (Debian's dataset-fashion-mnist: /usr/share/datasets/fashion-mnist/).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DataContext } from './types.js';

/** Searched after the data folder unless TEMPER_SYSTEM_DATA_DIRS says otherwise; local installs before the distribution's. */
export const DEFAULT_SYSTEM_DATA_DIRS = ['/usr/local/share/datasets', '/usr/share/datasets'];

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['TEMPER_DATA_DIR']) return resolve(env['TEMPER_DATA_DIR']);
  return join(env['XDG_CACHE_HOME'] ? resolve(env['XDG_CACHE_HOME']) : join(homedir(), '.cache'), 'temper', 'data');
}

/**
 * TEMPER_SYSTEM_DATA_DIRS, colon-separated like PATH, replaces the defaults; set but empty, it turns the system
 * lookup off (only the data folder is searched). Empty entries are skipped.
 */
export function systemDataDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const value = env['TEMPER_SYSTEM_DATA_DIRS'];
  if (value === undefined) return [...DEFAULT_SYSTEM_DATA_DIRS];
  return value.split(':').filter(Boolean).map((dir) => resolve(dir));
}

/** The system folders of `context`: its own list where it has one, else the environment's. */
export function contextSystemDirs(context: DataContext): string[] {
  return context.systemDataDirs ?? systemDataDirs();
}
