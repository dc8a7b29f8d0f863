// Package versions recorded with every run, so a number can be traced to the code that made it.
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';

let cached: Record<string, string> | undefined;

export function temperVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

export function versions(): Record<string, string> {
  cached ??= { temper: temperVersion(), node: process.versions.node, ...(tf.version as Record<string, string>) };
  return cached;
}
