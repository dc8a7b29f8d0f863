// Downloads a dataset's files into the data folder: verified, resumable, and never half-written.
// A download goes to `<file>.part` and is renamed to `<file>` only once its size and checksums match,
// so a file under its final name is always complete; an interrupted `.part` resumes with a Range request.
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { dirname, join } from 'node:path';
import { digestOfFile as digestOf, mismatches, type Digest } from './checksum.js';
import { datasetSpec } from './registry.js';
import type { RemoteFile } from './types.js';

const IDLE_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 10;
const REDIRECTS = [301, 302, 303, 307, 308];

/** A failed download or a checksum mismatch; the message says what happened and what to do. */
export class FetchError extends Error {}

export interface FetchedFile {
  file: RemoteFile;
  path: string;
  /** The verified file was already there: nothing was downloaded. */
  alreadyPresent: boolean;
  bytes: number;
  sha256: string;
  /** Whether `sha256` matched a published value (false only where none is published). */
  sha256Verified: boolean;
  /** Whether an MD5 was checked too (files with no published SHA-256). */
  md5Verified: boolean;
  /** Where this download continued a `.part` (0: from the start). */
  resumedFrom: number;
}

export type FetchEvent =
  | { kind: 'start'; file: RemoteFile; url: string; path: string; resumedFrom: number; totalBytes?: number }
  | { kind: 'progress'; file: RemoteFile; receivedBytes: number; totalBytes?: number }
  | { kind: 'done'; result: FetchedFile };

export interface FetchOptions {
  dataDir: string;
  onProgress?: (event: FetchEvent) => void;
  /** Replaces the scheme, host and port of every URL (tests serve the files from 127.0.0.1). */
  baseUrl?: string;
  /** Give up on a connection that sends nothing for this long. */
  idleTimeoutMs?: number;
}

/** Downloads every file of dataset `name` that is not already there and verified; [] for datasets with no files. */
export async function fetchDataset(name: string, options: FetchOptions): Promise<FetchedFile[]> {
  const results: FetchedFile[] = [];
  for (const file of datasetSpec(name).files ?? []) results.push(await downloadFile(file, options));
  return results;
}

export function downloadUrl(file: RemoteFile, baseUrl?: string): string {
  if (!baseUrl) return file.url;
  const { pathname, search } = new URL(file.url);
  return `${baseUrl.replace(/\/+$/, '')}${pathname}${search}`;
}

function result(file: RemoteFile, path: string, digest: Digest, alreadyPresent: boolean, resumedFrom: number): FetchedFile {
  return { file, path, alreadyPresent, bytes: digest.bytes, sha256: digest.sha256, sha256Verified: Boolean(file.sha256), md5Verified: Boolean(file.md5), resumedFrom };
}

function byHand(file: RemoteFile, path: string): string {
  return `To place it by hand, download ${file.url} with a browser or another tool and save it as ${path}.`;
}

/** GET that follows redirects and never decodes the body, so the bytes saved are the bytes published. */
function get(url: string, headers: Record<string, string>, idleMs: number, redirects = 0): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsGet : httpGet;
    const request = send(url, { headers, timeout: idleMs }, (response) => {
      const location = response.headers.location;
      if (REDIRECTS.includes(response.statusCode ?? 0) && location) {
        response.resume();
        if (redirects >= MAX_REDIRECTS) reject(new Error(`more than ${MAX_REDIRECTS} redirects`));
        else resolve(get(new URL(location, url).toString(), headers, idleMs, redirects + 1));
        return;
      }
      resolve(response);
    });
    // The socket timeout also covers a body that stops arriving half way.
    request.on('timeout', () => request.destroy(new Error(`no data arrived for ${idleMs / 1000} s`)));
    request.on('error', reject);
  });
}

/** Downloads one file into `<dataDir>/<folder>/<name>`, or verifies the one already there. */
export async function downloadFile(file: RemoteFile, options: FetchOptions): Promise<FetchedFile> {
  const path = join(options.dataDir, file.folder, file.name);
  const part = `${path}.part`;
  const emit = options.onProgress ?? (() => {});
  if (existsSync(path)) {
    const digest = await digestOf(path);
    const problems = mismatches(file, digest);
    if (problems.length > 0) {
      throw new FetchError(`${path} is already there but ${problems.join(' and ')}; delete it and fetch again, or replace it with the official file`);
    }
    const done = result(file, path, digest, true, 0);
    emit({ kind: 'done', result: done });
    return done;
  }
  let resumedFrom = existsSync(part) ? statSync(part).size : 0;
  if (file.bytes !== undefined && resumedFrom > file.bytes) {
    rmSync(part);
    resumedFrom = 0;
  }
  // A .part of the full size was interrupted between download and rename: verify it as it is.
  if (file.bytes === undefined || resumedFrom < file.bytes) resumedFrom = await transfer(file, path, part, resumedFrom, options);
  const digest = await digestOf(part);
  const problems = mismatches(file, digest);
  if (problems.length > 0) {
    rmSync(part, { force: true });
    throw new FetchError(
      `checksum mismatch: the download of ${downloadUrl(file, options.baseUrl)} ${problems.join(' and ')}. ` +
        `It was deleted; the server may have sent a damaged or different file. Try again later. ${byHand(file, path)}`,
    );
  }
  renameSync(part, path);
  const done = result(file, path, digest, false, resumedFrom);
  emit({ kind: 'done', result: done });
  return done;
}

/** Streams the URL into `part` (appending from `offset` where the server honours Range); returns where it resumed. */
async function transfer(file: RemoteFile, path: string, part: string, offset: number, options: FetchOptions): Promise<number> {
  const url = downloadUrl(file, options.baseUrl);
  const emit = options.onProgress ?? (() => {});
  const fail = (what: string, kept: boolean) =>
    new FetchError(`could not download ${url}: ${what}. ${kept ? `What arrived is kept in ${part}; run the same command again to resume. ` : ''}${byHand(file, path)}`);
  const idleMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  let response: IncomingMessage;
  try {
    response = await get(url, offset > 0 ? { Range: `bytes=${offset}-` } : {}, idleMs);
  } catch (error) {
    throw fail((error as Error).message, offset > 0);
  }
  const status = response.statusCode ?? 0;
  // 416: the .part is not a prefix the server can continue (the file changed); start over.
  if (status === 416 && offset > 0) {
    response.resume();
    rmSync(part, { force: true });
    return transfer(file, path, part, 0, options);
  }
  const resumed = status === 206 && offset > 0 && response.headers['content-range']?.startsWith(`bytes ${offset}-`) === true;
  if (status !== 200 && !resumed) {
    response.resume();
    throw fail(`the server answered ${status} ${response.statusMessage ?? ''}`.trim(), offset > 0);
  }
  const start = resumed ? offset : 0;
  const lengthHeader = response.headers['content-length'];
  const length = lengthHeader === undefined ? undefined : Number(lengthHeader);
  const totalBytes = length === undefined ? file.bytes : start + length;
  emit({ kind: 'start', file, url, path, resumedFrom: start, totalBytes });
  mkdirSync(dirname(part), { recursive: true });
  // Without Range support the server sends the whole file again: overwrite the .part.
  const handle = await open(part, resumed ? 'a' : 'w');
  let received = start;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      await handle.write(chunk);
      received += chunk.length;
      emit({ kind: 'progress', file, receivedBytes: received, totalBytes });
    }
  } catch (error) {
    throw fail(`the connection broke after ${received}${totalBytes === undefined ? '' : ` of ${totalBytes}`} bytes (${(error as Error).message})`, true);
  } finally {
    await handle.sync();
    await handle.close();
  }
  if (length !== undefined && received - start !== length) {
    throw fail(`the server closed the connection after ${received} of ${start + length} bytes`, true);
  }
  return start;
}
