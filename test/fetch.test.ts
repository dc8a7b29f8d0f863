// Downloads against a local HTTP server: verified, atomic, resumable, and a no-op once done.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { temperCli, tempDir } from './helpers.js';
import { downloadFile, fetchDataset, FetchError, type FetchEvent, type RemoteFile } from '../src/data/index.js';
import { verificationLine } from '../src/data/fetch-progress.js';

const PAYLOAD = randomBytes(300_000);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

interface Seen {
  path: string;
  range?: string;
}

/** Serves PAYLOAD at every path under /files/ and redirects /moved/* there; `dropAfter` cuts the next response short. */
class FixtureServer {
  readonly seen: Seen[] = [];
  dropAfter?: number;
  honourRange = true;
  private server?: Server;
  baseUrl = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      this.seen.push({ path, range: request.headers.range });
      if (path.startsWith('/moved/')) {
        response.writeHead(302, { Location: path.replace('/moved/', '/files/') }).end();
        return;
      }
      if (!path.startsWith('/files/') && !path.startsWith('/~kriz/')) {
        response.writeHead(404).end();
        return;
      }
      const range = this.honourRange ? /^bytes=(\d+)-$/.exec(request.headers.range ?? '') : null;
      const start = range ? Number(range[1]) : 0;
      const body = PAYLOAD.subarray(start);
      response.writeHead(range ? 206 : 200, {
        'Content-Length': body.length,
        // Some hosts label .gz files this way; the download must still keep the bytes as published.
        ...(path.endsWith('.gz') ? { 'Content-Encoding': 'gzip' } : {}),
        ...(range ? { 'Content-Range': `bytes ${start}-${PAYLOAD.length - 1}/${PAYLOAD.length}` } : {}),
      });
      const drop = this.dropAfter;
      if (drop === undefined) {
        response.end(body);
        return;
      }
      this.dropAfter = undefined;
      response.write(body.subarray(0, drop), () => setTimeout(() => response.socket?.destroy(), 20));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

const remote = (name: string, extra: Partial<RemoteFile> = {}): RemoteFile => ({
  name,
  folder: 'fixture',
  url: `https://data.example.org/files/${name}`,
  bytes: PAYLOAD.length,
  sha256: sha256(PAYLOAD),
  ...extra,
});

describe('dataset downloads', () => {
  const server = new FixtureServer();
  before(() => server.start());
  after(() => server.stop());

  it('a download is verified, follows redirects, reports progress, and lands under its final name', async () => {
    const dataDir = tempDir();
    const events: FetchEvent[] = [];
    const file = remote('a.bin', { url: 'https://data.example.org/moved/a.bin' });
    const result = await downloadFile(file, { dataDir, baseUrl: server.baseUrl, onProgress: (event) => events.push(event) });
    const path = join(dataDir, 'fixture', 'a.bin');
    assert.equal(result.path, path);
    assert.deepEqual(readFileSync(path), PAYLOAD);
    assert.equal(existsSync(`${path}.part`), false);
    assert.equal(result.sha256Verified, true);
    assert.equal(result.alreadyPresent, false);
    assert.deepEqual(server.seen.slice(-2).map((seen) => seen.path), ['/moved/a.bin', '/files/a.bin']);
    assert.equal(events[0]?.kind, 'start');
    const progress = events.filter((event) => event.kind === 'progress');
    assert.ok(progress.length > 0);
    assert.equal(progress.at(-1)!.receivedBytes, PAYLOAD.length);
    assert.equal(events.at(-1)?.kind, 'done');
    assert.match(verificationLine(result), /SHA-256 [0-9a-f]{64} verified/);
  });

  it('a .gz served with Content-Encoding: gzip is saved as the published bytes, not decoded', async () => {
    const result = await downloadFile(remote('j.tar.gz'), { dataDir: tempDir(), baseUrl: server.baseUrl });
    assert.deepEqual(readFileSync(result.path), PAYLOAD);
  });

  it('fetching again is a no-op: the verified file is kept and no request is made', async () => {
    const dataDir = tempDir();
    const file = remote('b.bin');
    await downloadFile(file, { dataDir, baseUrl: server.baseUrl });
    const requests = server.seen.length;
    const again = await downloadFile(file, { dataDir, baseUrl: server.baseUrl });
    assert.equal(again.alreadyPresent, true);
    assert.equal(server.seen.length, requests);
    assert.match(verificationLine(again), /already there/);
  });

  it('a checksum mismatch is a clear error and leaves nothing behind', async () => {
    const dataDir = tempDir();
    const file = remote('c.bin', { sha256: '0'.repeat(64) });
    await assert.rejects(downloadFile(file, { dataDir, baseUrl: server.baseUrl }), (error: Error) => {
      assert.ok(error instanceof FetchError);
      assert.match(error.message, /checksum mismatch/);
      assert.ok(error.message.includes(`has SHA-256 ${sha256(PAYLOAD)}, expected ${'0'.repeat(64)}`), error.message);
      return true;
    });
    assert.equal(existsSync(join(dataDir, 'fixture', 'c.bin')), false);
    assert.equal(existsSync(join(dataDir, 'fixture', 'c.bin.part')), false);
  });

  it('fetchDataset downloads from the official path and checks the published size and SHA-256', async () => {
    const dataDir = tempDir();
    await assert.rejects(fetchDataset('cifar10', { dataDir, baseUrl: server.baseUrl }), /checksum mismatch.*is 300000 bytes, expected 170052171 and has SHA-256 [0-9a-f]{64}, expected c4a38c50/);
    assert.equal(server.seen.at(-1)?.path, '/~kriz/cifar-10-binary.tar.gz');
    assert.equal(existsSync(join(dataDir, 'cifar10', 'cifar-10-binary.tar.gz.part')), false);
    assert.deepEqual(await fetchDataset('synthetic', { dataDir }), []);
  });

  it('a dropped connection fails and keeps only a .part, which the next fetch resumes with a Range request', async () => {
    const dataDir = tempDir();
    const file = remote('d.bin');
    const path = join(dataDir, 'fixture', 'd.bin');
    server.dropAfter = 120_000;
    await assert.rejects(downloadFile(file, { dataDir, baseUrl: server.baseUrl }), (error: Error) => {
      assert.ok(error instanceof FetchError);
      assert.match(error.message, /could not download http:\/\/127\.0\.0\.1:\d+\/files\/d\.bin: the connection broke after \d+ of 300000 bytes/);
      assert.match(error.message, /run the same command again to resume/);
      assert.ok(error.message.includes(`save it as ${path}`), error.message);
      return true;
    });
    assert.equal(existsSync(path), false);
    const kept = statSync(`${path}.part`).size;
    assert.ok(kept > 0 && kept <= 120_000, `kept ${kept} bytes`);

    const result = await downloadFile(file, { dataDir, baseUrl: server.baseUrl });
    assert.equal(server.seen.at(-1)?.range, `bytes=${kept}-`);
    assert.equal(result.resumedFrom, kept);
    assert.equal(result.sha256Verified, true);
    assert.deepEqual(readFileSync(path), PAYLOAD);
    assert.equal(existsSync(`${path}.part`), false);
  });

  it('a server that ignores Range sends the whole file again, which replaces the .part', async () => {
    const dataDir = tempDir();
    const file = remote('e.bin');
    mkdirSync(join(dataDir, 'fixture'), { recursive: true });
    writeFileSync(join(dataDir, 'fixture', 'e.bin.part'), Buffer.alloc(5000, 7));
    server.honourRange = false;
    try {
      const result = await downloadFile(file, { dataDir, baseUrl: server.baseUrl });
      assert.equal(server.seen.at(-1)?.range, 'bytes=5000-');
      assert.equal(result.resumedFrom, 0);
      assert.deepEqual(readFileSync(result.path), PAYLOAD);
    } finally {
      server.honourRange = true;
    }
  });

  it('a file with no published SHA-256 is checked by size and MD5, and its SHA-256 is reported as not verified', async () => {
    const dataDir = tempDir();
    const result = await downloadFile(remote('f.bin', { sha256: undefined, md5: md5(PAYLOAD) }), { dataDir, baseUrl: server.baseUrl });
    assert.equal(result.sha256Verified, false);
    assert.equal(result.md5Verified, true);
    assert.equal(result.sha256, sha256(PAYLOAD));
    assert.match(verificationLine(result), new RegExp(`SHA-256 ${result.sha256} NOT verified .*size and published MD5 matched`));
    await assert.rejects(downloadFile(remote('g.bin', { sha256: undefined, bytes: 12 }), { dataDir, baseUrl: server.baseUrl }), /is 300000 bytes, expected 12/);
  });

  it('network and HTTP errors name the URL and say how to place the file by hand', async () => {
    const dataDir = tempDir();
    await assert.rejects(downloadFile(remote('h.bin', { url: 'https://data.example.org/nowhere/h.bin' }), { dataDir, baseUrl: server.baseUrl }), /could not download http:\/\/127\.0\.0\.1:\d+\/nowhere\/h\.bin: the server answered 404 Not Found\. To place it by hand, download https:\/\/data\.example\.org\/nowhere\/h\.bin/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(downloadFile(remote('i.bin'), { dataDir, baseUrl: `http://127.0.0.1:${port}` }), /could not download http:\/\/127\.0\.0\.1:\d+\/files\/i\.bin: connect ECONNREFUSED/);
    assert.equal(existsSync(join(dataDir, 'fixture', 'h.bin.part')), false);
  });
});

describe('temper data fetch', () => {
  it('an unknown dataset is a usage error listing the valid names; a missing name too', () => {
    const unknown = temperCli(['data', 'fetch', 'cifar11']);
    assert.equal(unknown.status, 2, unknown.stderr);
    assert.match(unknown.stderr, /unknown dataset "cifar11"; expected one of: .*cifar10.*tiny-imagenet/);
    const none = temperCli(['data', 'fetch']);
    assert.equal(none.status, 2, none.stderr);
    assert.match(none.stderr, /needs a dataset name/);
  });

  it('embedded and generated datasets have nothing to fetch', () => {
    const result = temperCli(['data', 'fetch', 'synthetic', '--data-dir', tempDir()]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /synthetic: nothing to fetch/);
  });

  it('a damaged file already in place exits 1 and says what to do, without touching the network', () => {
    const dataDir = tempDir();
    mkdirSync(join(dataDir, 'cifar10'));
    writeFileSync(join(dataDir, 'cifar10', 'cifar-10-binary.tar.gz'), 'not the archive');
    const result = temperCli(['data', 'fetch', 'cifar10', '--data-dir', dataDir]);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /cifar-10-binary\.tar\.gz is already there but is 15 bytes, expected 170052171.*delete it and fetch again/);
  });

  it('data list shows the file-based datasets and where they come from', () => {
    const result = temperCli(['data', 'list', '--data-dir', tempDir()]);
    assert.equal(result.status, 0, result.stderr);
    for (const name of ['mnist-full', 'fashion-mnist', 'cifar10', 'cifar100', 'cifar100-coarse', 'tiny-imagenet']) {
      assert.match(result.stdout, new RegExp(`^${name}\\s+missing`, 'm'));
    }
  });
});
