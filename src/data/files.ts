// Where a file-based dataset's files are found, and the error that says how to get them when they are not.
// One lookup for every file-based dataset: the data folder first, then each system dataset folder
// (data-dir.ts), each as `<dir>/<folder>/`; the first folder that holds all of a dataset's files wins,
// so a split is never read from one copy and its labels from another.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { contextSystemDirs } from './data-dir.js';
import { DataError } from './types.js';
import type { DataContext, DataLocation, RemoteFile } from './types.js';

export interface SearchFolder {
  folder: string;
  kind: DataLocation['kind'];
}

/** `<dataDir>/<folder>`, then `<systemDir>/<folder>` for each system dataset folder: the search order. */
export function searchFolders(context: DataContext, folder: string): SearchFolder[] {
  return [
    { folder: join(context.dataDir, folder), kind: 'data' },
    ...contextSystemDirs(context).map((dir): SearchFolder => ({ folder: join(dir, folder), kind: 'system' })),
  ];
}

/** The names a file may have on disk: as distributed, and unpacked (without `.gz`) where its unpacked content is known. */
export function acceptedNames(file: RemoteFile): string[] {
  return file.unpacked ? [file.name, file.name.replace(/\.gz$/, '')] : [file.name];
}

function pathIn(folder: string, file: RemoteFile): string | undefined {
  return acceptedNames(file).map((name) => join(folder, name)).find((path) => existsSync(path));
}

function commonFolder(files: RemoteFile[]): string {
  const folders = new Set(files.map((file) => file.folder));
  if (folders.size !== 1) throw new Error(`a dataset's files share one folder; found ${[...folders].join(', ')}`);
  return files[0]!.folder;
}

/** The first folder in search order that holds every one of `files`, or undefined. */
export function locateFiles(context: DataContext, files: RemoteFile[]): DataLocation | undefined {
  for (const { folder, kind } of searchFolders(context, commonFolder(files))) {
    const paths = files.map((file) => pathIn(folder, file));
    if (paths.every((path) => path !== undefined)) return { folder, kind, paths: paths as string[] };
  }
  return undefined;
}

/** "data folder" or "system": how `data list`, `doctor` and the run log name a location's kind. */
export function kindLabel(kind: DataLocation['kind']): string {
  return kind === 'data' ? 'data folder' : 'system';
}

/** Where `dataset`'s files are, logged as one line for the run (`<name>: using <folder> (system)`); MissingDataError when no folder has them all. */
export function requireFiles(dataset: string, context: DataContext, files: RemoteFile[], systemPackage?: string): DataLocation {
  const location = locateFiles(context, files);
  if (!location) throw missingFilesError(dataset, context, files, systemPackage);
  logger(context)(`${dataset}: using ${location.folder} (${kindLabel(location.kind)})`);
  return location;
}

export class MissingDataError extends DataError {}

/**
 * Names the first file missing from the data folder, every folder searched (and what an incomplete one lacks),
 * the fetch command, the by-hand alternative and, where one exists, the system package.
 */
export function missingFilesError(dataset: string, context: DataContext, files: RemoteFile[], systemPackage?: string): MissingDataError {
  const folders = searchFolders(context, commonFolder(files));
  const dataFolder = folders[0]!.folder;
  const first = files.find((file) => pathIn(dataFolder, file) === undefined) ?? files[0]!;
  const partial = folders.slice(1).flatMap(({ folder }) => {
    const missing = files.filter((file) => pathIn(folder, file) === undefined);
    return existsSync(folder) && missing.length > 0 ? [`${folder} lacks ${missing.map((file) => file.name).join(', ')}`] : [];
  });
  const searched = folders.map(({ folder }) => folder);
  return new MissingDataError(
    `dataset "${dataset}": ${acceptedNames(first).join(' or ')} not found in ${searched.join(', ')}` +
      `${partial.length > 0 ? ` (${partial.join('; ')})` : ''}. ` +
      `Fetch it with \`temper data fetch ${dataset} --data-dir ${context.dataDir}\`, ` +
      `or download ${first.url} yourself and place it in ${dataFolder} by hand` +
      `${systemPackage ? `, or install the system package (Debian: apt-get install ${systemPackage})` : ''}.`,
  );
}

/** Progress lines go to stderr unless the caller routes them elsewhere. */
export function logger(context: DataContext): (line: string) => void {
  return context.log ?? ((line) => process.stderr.write(`${line}\n`));
}
