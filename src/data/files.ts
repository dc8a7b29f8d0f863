// Where a file-based dataset's files live, and the error that says how to get one that is missing.
import { DataError } from './types.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DataContext, RemoteFile } from './types.js';

/** `<dataDir>/<folder>/<name>` of a downloadable file. */
export function localPath(context: DataContext, file: RemoteFile): string {
  return join(context.dataDir, file.folder, file.name);
}

export class MissingDataError extends DataError {}

/** Names the file, the folder it was looked for in, the fetch command, and the by-hand alternative. */
export function missingFileError(dataset: string, context: DataContext, file: RemoteFile, alternatives: string[] = []): MissingDataError {
  const names = [file.name, ...alternatives].join(' or ');
  return new MissingDataError(
    `dataset "${dataset}": ${names} not found in ${join(context.dataDir, file.folder)}. ` +
      `Fetch it with \`temper data fetch ${dataset} --data-dir ${context.dataDir}\`, ` +
      `or download ${file.url} yourself and place it in that folder by hand.`,
  );
}

/** The path of `file`, or a MissingDataError when it is not there. */
export function requireFile(dataset: string, context: DataContext, file: RemoteFile): string {
  const path = localPath(context, file);
  if (!existsSync(path)) throw missingFileError(dataset, context, file);
  return path;
}

/** Progress lines go to stderr unless the caller routes them elsewhere. */
export function logger(context: DataContext): (line: string) => void {
  return context.log ?? ((line) => process.stderr.write(`${line}\n`));
}
