// Job claims: `runs/<runId>.lock`, created exclusively, so processes sharing a folder never run a job twice,
// and the leftovers of a killed process (its locks, its half-written temp files) are recognised and cleared.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { recordPath } from './store.js';

/** What a lock file holds: who claimed the job and when. */
export interface LockInfo {
  pid: number;
  hostname: string;
  startedAt: string;
}

export interface HeldLock {
  path: string;
  text: string;
}

export type Claim = { claimed: true; lock: HeldLock } | { claimed: false; holder?: LockInfo };

export interface LockOptions {
  /** A lock from another host older than this is taken over (its pid cannot be checked from here). */
  staleSeconds: number;
}

export const DEFAULT_LOCK_STALE_SECONDS = 6 * 60 * 60;
// A lock is written right after its exclusive create; an unreadable one older than this was left by a crash.
const UNREADABLE_LOCK_GRACE_SECONDS = 10;
// writeFileAtomic renames its temp file within moments; one this old whose pid is gone here was orphaned.
const ORPHAN_TEMP_SECONDS = 60;
// `.<name>.<pid>.<hex>.tmp` from writeFileAtomic, `<runId>.lock.<pid>.<hex>.stale` from a lock takeover.
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/;
const ASIDE_NAME = /^.+\.lock\.(\d+)\.[0-9a-f]+\.stale$/;

/** A TEMPER_LOCK_STALE_SECONDS that cannot be used; the command line turns it into a usage error. */
export class LockSettingError extends Error {
  override readonly name = 'LockSettingError';
}

/** The stale age from TEMPER_LOCK_STALE_SECONDS (seconds, > 0), default 6 hours. */
export function lockStaleSeconds(env: NodeJS.ProcessEnv): number {
  const text = env.TEMPER_LOCK_STALE_SECONDS;
  if (text === undefined || text.trim() === '') return DEFAULT_LOCK_STALE_SECONDS;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new LockSettingError(`TEMPER_LOCK_STALE_SECONDS: expected a number of seconds > 0, found ${JSON.stringify(text)}`);
  }
  return value;
}

export function lockPath(outDir: string, runId: string): string {
  return recordPath(outDir, runId).replace(/\.json$/, '.lock');
}

// Locks this process holds, released on every exit path, including process.exit from a second Ctrl-C.
const held = new Map<string, HeldLock>();
let exitHookInstalled = false;

/**
 * Claims a job: creates its lock exclusively, or takes over a stale one (dead pid on this host, or older than
 * `staleSeconds` from another host). Returns the live holder when the job is someone else's.
 */
export function claimLock(outDir: string, runId: string, options: LockOptions): Claim {
  const path = lockPath(outDir, runId);
  const lock = createLock(outDir, runId);
  if (lock) return { claimed: true, lock };
  const found = inspectLock(path, options);
  if (found && !found.stale) return { claimed: false, holder: found.holder };
  // Stale (or gone meanwhile): remove it if unchanged, then one more exclusive create; another process may win it.
  if (found) removeIfUnchanged(path, found.text);
  const retried = createLock(outDir, runId);
  if (retried) return { claimed: true, lock: retried };
  return { claimed: false, holder: inspectLock(path, options)?.holder };
}

/** "pid 123 on node7 since 2025-01-01T10:00:00.000Z", for progress lines and `temper status`. */
export function describeHolder(holder: LockInfo | undefined): string {
  return holder ? `pid ${holder.pid} on ${holder.hostname} since ${holder.startedAt}` : 'holder unknown (lock file empty or unreadable)';
}

/** Removes the lock if it is still this process's (a lock taken over as stale belongs to its new holder). */
export function releaseLock(lock: HeldLock): void {
  held.delete(lock.path);
  if (readText(lock.path) === lock.text) rmSync(lock.path, { force: true });
}

/** The lock of a job: its holder (undefined when unreadable), whether it is stale, and its raw text. */
export function inspectLock(path: string, options: LockOptions): { holder?: LockInfo; stale: boolean; text: string } | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  const holder = parseLockInfo(text);
  if (!holder) {
    const ageSeconds = fileAgeSeconds(path);
    return ageSeconds === undefined ? undefined : { stale: ageSeconds > UNREADABLE_LOCK_GRACE_SECONDS, text };
  }
  return { holder, stale: isStale(holder, path, options), text };
}

/** Removes a job's lock if its holder is gone, and that holder's unfinished temp files; for jobs already finished. */
export function clearStaleLock(outDir: string, runId: string, options: LockOptions): void {
  const path = lockPath(outDir, runId);
  const found = inspectLock(path, options);
  if (found?.stale && removeIfUnchanged(path, found.text)) removeRecordTempFiles(outDir, runId);
}

/** Removes temp files under `dir` (and its folders) whose writer died long ago. */
export function removeOrphanTempFiles(dir: string): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) removeOrphanTempFiles(path);
    const match = entry.isFile() ? (TEMP_NAME.exec(entry.name) ?? ASIDE_NAME.exec(entry.name)) : null;
    if (!match || processAlive(Number(match[1]))) continue;
    if ((fileAgeSeconds(path) ?? 0) > ORPHAN_TEMP_SECONDS) rmSync(path, { force: true });
  }
}

function createLock(outDir: string, runId: string): HeldLock | undefined {
  const path = lockPath(outDir, runId);
  const info: LockInfo = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
  const text = `${JSON.stringify(info)}\n`;
  mkdirSync(dirname(path), { recursive: true });
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const lock = { path, text };
  held.set(path, lock);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const heldLock of [...held.values()]) releaseLock(heldLock);
    });
  }
  // Only the holder of a job's lock writes its record, so temp files of that record were left by a dead holder.
  removeRecordTempFiles(outDir, runId);
  return lock;
}

/**
 * Removes the lock only if it still has the text judged stale: it is renamed aside first (atomic), and if the
 * file moved turns out to be a fresh claim made meanwhile, it is put back.
 */
function removeIfUnchanged(path: string, staleText: string): boolean {
  const aside = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.stale`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
  const moved = readText(aside);
  if (moved !== staleText && moved !== undefined) {
    restoreLock(path, moved);
    rmSync(aside, { force: true });
    return false;
  }
  rmSync(aside, { force: true });
  return true;
}

function restoreLock(path: string, text: string): void {
  try {
    const fd = openSync(path, 'wx');
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

function isStale(holder: LockInfo, path: string, options: LockOptions): boolean {
  if (holder.hostname === hostname()) {
    // Our own pid on a lock we do not hold is a previous process's (pids repeat across container restarts).
    if (holder.pid === process.pid) return !held.has(path);
    return !processAlive(holder.pid);
  }
  const startedMs = Date.parse(holder.startedAt);
  const ageSeconds = Number.isNaN(startedMs) ? fileAgeSeconds(path) : (Date.now() - startedMs) / 1000;
  return ageSeconds !== undefined && ageSeconds > options.staleSeconds;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseLockInfo(text: string): LockInfo | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockInfo>;
    if (typeof value.pid !== 'number' || typeof value.hostname !== 'string' || typeof value.startedAt !== 'string') return undefined;
    return { pid: value.pid, hostname: value.hostname, startedAt: value.startedAt };
  } catch {
    return undefined;
  }
}

function removeRecordTempFiles(outDir: string, runId: string): void {
  const dir = dirname(recordPath(outDir, runId));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `.${runId}.json.`;
  for (const name of names) if (name.startsWith(prefix) && TEMP_NAME.test(name)) rmSync(join(dir, name), { force: true });
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function fileAgeSeconds(path: string): number | undefined {
  try {
    return (Date.now() - statSync(path).mtimeMs) / 1000;
  } catch {
    return undefined;
  }
}
