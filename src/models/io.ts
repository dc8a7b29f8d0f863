// Saving and loading models in the tfjs layers format (model.json + weights.bin), without tfjs-node.
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../util/atomic.js';
// Custom layers must be registered with tf.serialization before a topology that names them is read.
import './layers/index.js';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

/** The bytes of a saved model, as tfjs' file:// handler (tfjs-node only) would write them. */
function modelFiles(artifacts: tf.io.ModelArtifacts): { modelJson: string; weights: Uint8Array } {
  if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('saveModel: binary (GraphDef) topologies are not supported');
  const modelJson: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology!,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
    ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
  };
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)));
  return { modelJson: JSON.stringify(modelJson), weights };
}

/** An IOHandler that writes model.json and weights.bin into `dir`, replacing any model already there. */
function folderSaveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts) {
      const { modelJson, weights } = modelFiles(artifacts);
      const target = resolve(dir);
      const stamp = `${process.pid}.${randomBytes(6).toString('hex')}`;
      const staging = join(dirname(target), `.${basename(target)}.${stamp}.tmp`);
      const previous = join(dirname(target), `.${basename(target)}.${stamp}.old`);
      try {
        writeFileAtomic(join(staging, WEIGHTS_FILE), weights);
        writeFileAtomic(join(staging, MODEL_FILE), modelJson);
      } catch (error) {
        rmSync(staging, { recursive: true, force: true });
        throw error;
      }
      // The folder is swapped in by rename, so a reader never sees new topology with old weights; a crash
      // between the two renames leaves the old model beside it as .<name>.<stamp>.old.
      const replacing = existsSync(target);
      if (replacing) renameSync(target, previous);
      try {
        renameSync(staging, target);
      } catch (error) {
        if (replacing) renameSync(previous, target);
        rmSync(staging, { recursive: true, force: true });
        throw error;
      }
      rmSync(previous, { recursive: true, force: true });
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** An IOHandler that reads what folderSaveHandler wrote. */
function folderLoadHandler(dir: string): tf.io.IOHandler {
  return {
    async load() {
      const modelJson = JSON.parse(readFileSync(join(dir, MODEL_FILE), 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const buffers = manifest.flatMap((group) => group.paths.map((path) => readFileSync(join(dir, path))));
        const bytes = Buffer.concat(buffers);
        const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        return [manifest.flatMap((group) => group.weights), weightData];
      });
    },
  };
}

/** Writes `model` (topology and weights, no optimiser state) into folder `dir` as model.json + weights.bin, atomically. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(folderSaveHandler(dir));
}

/** Reads a model written by saveModel, custom layers included. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(folderLoadHandler(dir));
}
