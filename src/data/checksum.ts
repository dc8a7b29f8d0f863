// Sizes and checksums of dataset files against their published values: `temper data fetch` checks a download
// before it takes its final name, and every load checks the files it reads (see publishedMismatch).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { logger } from './files.js';
import type { DataContext, DataLocation, RemoteFile } from './types.js';

export interface Digest {
  bytes: number;
  sha256: string;
  /** Computed only where asked for (files whose published checksum is an MD5). */
  md5?: string;
}

/** What a file must be: its size and checksums, each where published. */
export interface Expected {
  bytes?: number;
  sha256?: string;
  md5?: string;
}

/** Incremental SHA-256 (and MD5 where `withMd5`) of bytes fed in chunks. */
export function digester(withMd5: boolean): { update(chunk: Uint8Array): void; digest(): Digest } {
  const sha256 = createHash('sha256');
  const md5 = withMd5 ? createHash('md5') : undefined;
  let bytes = 0;
  return {
    update(chunk) {
      sha256.update(chunk);
      md5?.update(chunk);
      bytes += chunk.length;
    },
    digest: () => ({ bytes, sha256: sha256.digest('hex'), ...(md5 ? { md5: md5.digest('hex') } : {}) }),
  };
}

export function digestOfBytes(data: Uint8Array, withMd5 = false): Digest {
  const d = digester(withMd5);
  d.update(data);
  return d.digest();
}

export async function digestOfFile(path: string, withMd5 = true): Promise<Digest> {
  const d = digester(withMd5);
  for await (const chunk of createReadStream(path)) d.update(chunk as Buffer);
  return d.digest();
}

/** What differs from the published size and checksums; empty when everything published matches. */
export function mismatches(expected: Expected, digest: Digest): string[] {
  const problems: string[] = [];
  if (expected.bytes !== undefined && digest.bytes !== expected.bytes) problems.push(`is ${digest.bytes} bytes, expected ${expected.bytes}`);
  if (expected.sha256 && digest.sha256 !== expected.sha256) problems.push(`has SHA-256 ${digest.sha256}, expected ${expected.sha256}`);
  if (expected.md5 && digest.md5 !== undefined && digest.md5 !== expected.md5) problems.push(`has MD5 ${digest.md5}, expected ${expected.md5}`);
  return problems;
}

/**
 * Why the bytes read are not the published `file` (a clause: "it has SHA-256 ..."), or undefined when they are: the file as
 * distributed matches its size and checksum, or (where its unpacked content is known) its content does,
 * as for a copy gzipped again or stored unpacked. `unpacked` is the gunzipped content, where the caller has it.
 * Hashing on every load, in memory, costs a fraction of gunzipping the same bytes; no cache can go stale.
 */
export function publishedMismatch(file: RemoteFile, raw: Uint8Array, unpacked?: Uint8Array): string | undefined {
  // An unpacked copy cannot match the .gz's checksum: only its content is checked.
  const storedUnpacked = file.unpacked !== undefined && unpacked === raw;
  const asDistributed = storedUnpacked ? [] : mismatches(file, digestOfBytes(raw, Boolean(file.md5)));
  if (!storedUnpacked && asDistributed.length === 0) return undefined;
  if (file.unpacked && unpacked) {
    const content = mismatches(file.unpacked, digestOfBytes(unpacked));
    if (content.length === 0) return undefined;
    return `its unpacked content ${content.join(' and ')}`;
  }
  return `it ${asDistributed.join(' and ')}`;
}

/**
 * Logs a warning when a file about to be used is not the published one. A warning, not an error: the file
 * passed every format check, so it is usable data, and a different copy (a subset, a local fix, another
 * packaging) may be what the user chose; but its results may not compare with published ones, so every
 * load says so, naming the file, what differs, and how to get the official file.
 */
export function warnIfNotPublished(dataset: string, context: DataContext, location: DataLocation, file: RemoteFile, path: string, raw: Uint8Array, unpacked?: Uint8Array): void {
  warn(dataset, context, location, file, path, publishedMismatch(file, raw, unpacked));
}

/** The same, for a file hashed while streamed (a digest instead of the bytes). */
export function warnIfDigestNotPublished(dataset: string, context: DataContext, location: DataLocation, file: RemoteFile, path: string, digest: Digest): void {
  const problems = mismatches(file, digest);
  warn(dataset, context, location, file, path, problems.length > 0 ? `it ${problems.join(' and ')}` : undefined);
}

function warn(dataset: string, context: DataContext, location: DataLocation, file: RemoteFile, path: string, problem: string | undefined): void {
  if (!problem) return;
  const fix =
    location.kind === 'data'
      ? `delete it and run \`temper data fetch ${dataset} --data-dir ${context.dataDir}\``
      : `\`temper data fetch ${dataset} --data-dir ${context.dataDir}\` puts the official files in the data folder, which is searched first`;
  logger(context)(`warning: ${path} is not the published ${file.name} (${file.url}): ${problem}. It is well-formed, so it is used, but results may not compare with published ones; for the official file, ${fix}.`);
}
