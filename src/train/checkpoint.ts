// Checkpoints: `<checkpointDir>/<trainingId>/` keeps a trained model, so reruns with other attacks skip the training.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { loadModel, saveModel } from '../models/io.js';
import { writeFileAtomic } from '../util/atomic.js';

const SUMMARY_FILE = 'training.json';
// `.<name>.<host>.<pid>.<hex>.tmp|old`: staging and set-aside folders of a save (saveModel's staging inside ends alike).
const LEFTOVER_NAME = /^\..+\.(\d+)\.[0-9a-f]{12}\.(tmp|old)$/;
// A save takes seconds; a leftover this old was left by a killed process, even one on another host.
const LEFTOVER_SECONDS = 60 * 60;

/** What training produced besides the weights, so a run that reuses the checkpoint records the same numbers. */
export interface TrainingSummary {
  epochLosses: number[];
  trainSeconds: number;
  trainImagesPerSecond: number;
  finishedAt: string;
}

/** training.json: the summary, and a SHA-256 per file of the saved model. */
interface SummaryFile extends TrainingSummary {
  files: Record<string, string>;
}

export interface Checkpoint {
  model: tf.LayersModel;
  summary: TrainingSummary;
}

/**
 * Saves `model` and `summary` as the checkpoint folder `path`, replacing one already there. Everything is written
 * into a staging folder first and renamed into place, so a kill at any moment leaves the old checkpoint or none,
 * never a folder that looks complete.
 */
export async function saveCheckpoint(path: string, model: tf.LayersModel, summary: TrainingSummary): Promise<void> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  removeLeftovers(dir);
  const stamp = `${hostname()}.${process.pid}.${randomBytes(6).toString('hex')}`;
  const staging = join(dir, `.${basename(path)}.${stamp}.tmp`);
  const previous = join(dir, `.${basename(path)}.${stamp}.old`);
  try {
    await saveModel(model, staging);
    const contents: SummaryFile = { ...summary, files: digests(staging) };
    writeFileAtomic(join(staging, SUMMARY_FILE), `${JSON.stringify(contents, null, 2)}\n`);
    moveIfPresent(path, previous);
    renameSync(staging, path);
  } catch (error) {
    // Another process saved the same training between our two renames: its checkpoint is as good as ours.
    if (!isCode(error, 'ENOTEMPTY', 'EEXIST')) throw error;
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(previous, { recursive: true, force: true });
  }
}

/**
 * The checkpoint in folder `path`, or undefined when there is none. Throws, naming what is wrong, when it cannot be
 * read, does not match its checksums, or was trained for other shapes.
 */
export async function loadCheckpoint(path: string, expected: { inputShape: number[]; numClasses: number }): Promise<Checkpoint | undefined> {
  if (!existsSync(path)) return undefined;
  const { files, ...summary } = readSummary(join(path, SUMMARY_FILE));
  // Checked before tfjs reads anything: loadLayersModel leaks the half-built model when the weights do not fit it.
  for (const [name, digest] of Object.entries(files)) {
    if (!existsSync(join(path, name))) throw new Error(`${name} is missing`);
    if (sha256(join(path, name)) !== digest) throw new Error(`${name} does not match its checksum (truncated or changed since it was saved)`);
  }
  const model = await loadModel(path);
  const inputShape = model.inputs[0]?.shape.slice(1);
  const outputShape = model.outputs[0]?.shape.slice(1);
  if (JSON.stringify(inputShape) !== JSON.stringify(expected.inputShape) || JSON.stringify(outputShape) !== JSON.stringify([expected.numClasses])) {
    model.dispose();
    throw new Error(
      `the saved model maps ${JSON.stringify(inputShape)} to ${JSON.stringify(outputShape)}, expected ${JSON.stringify(expected.inputShape)} to [${expected.numClasses}]`,
    );
  }
  return { model, summary };
}

function readSummary(file: string): SummaryFile {
  let value: Partial<SummaryFile>;
  try {
    value = JSON.parse(readFileSync(file, 'utf8')) as Partial<SummaryFile>;
  } catch (error) {
    throw new Error(`${SUMMARY_FILE}: ${(error as Error).message}`);
  }
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  const { epochLosses, trainSeconds, trainImagesPerSecond, finishedAt, files } = value;
  if (
    !Array.isArray(epochLosses) ||
    !epochLosses.every(finite) ||
    !finite(trainSeconds) ||
    !finite(trainImagesPerSecond) ||
    typeof finishedAt !== 'string' ||
    typeof files !== 'object' ||
    files === null ||
    Object.keys(files).length === 0
  ) {
    throw new Error(`${SUMMARY_FILE}: expected epochLosses, trainSeconds, trainImagesPerSecond, finishedAt and files`);
  }
  return { epochLosses, trainSeconds: trainSeconds!, trainImagesPerSecond: trainImagesPerSecond!, finishedAt, files };
}

/** SHA-256 of every file of the saved model in `dir` (all but training.json), by name. */
function digests(dir: string): Record<string, string> {
  const names = readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isFile() && entry.name !== SUMMARY_FILE);
  return Object.fromEntries(names.map(({ name }) => [name, sha256(join(dir, name))]));
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function moveIfPresent(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error;
  }
}

/** Removes the staging folders of saves killed midway: by a dead process of this host, or long ago. */
function removeLeftovers(dir: string): void {
  const thisHost = `.${hostname()}.`;
  for (const name of readdirSync(dir)) {
    const match = LEFTOVER_NAME.exec(name);
    if (!match) continue;
    const path = join(dir, name);
    try {
      const deadHere = name.includes(`${thisHost}${match[1]}.`) && !processAlive(Number(match[1]));
      if (deadHere || (Date.now() - statSync(path).mtimeMs) / 1000 > LEFTOVER_SECONDS) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed meanwhile by another process cleaning the same folder.
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return isCode(error, 'EPERM');
  }
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException).code ?? '');
}
