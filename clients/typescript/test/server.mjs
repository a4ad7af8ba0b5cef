// Starts real GISBI servers for the tests: the binary built from this
// repository (or $GISBI_BIN), `gisbi serve --dev` on a free 127.0.0.1 port
// with a temporary data dir, ready once /readyz answers 200.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { GisbiClient, GisbiRest } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
export const packageDir = resolve(here, '..');
export const repoRoot = resolve(packageDir, '../..');
const cachedBin = join(packageDir, '.cache', 'gisbi');

/** Builds the server binary into .cache/ (go build is incremental); GISBI_BIN skips it. */
export function buildServer() {
  if (process.env.GISBI_BIN) return process.env.GISBI_BIN;
  mkdirSync(dirname(cachedBin), { recursive: true });
  execFileSync('go', ['build', '-o', cachedBin, './cmd/gisbi'], { cwd: repoRoot, stdio: 'inherit' });
  return cachedBin;
}

function serverBin() {
  if (process.env.GISBI_BIN) return process.env.GISBI_BIN;
  // npm test builds it first; a test file run on its own builds it here.
  return existsSync(cachedBin) ? cachedBin : buildServer();
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class TestServer {
  /** env: extra GISBI_* settings. */
  constructor(env = {}) {
    this.env = env;
    this.dataDir = mkdtempSync(join(tmpdir(), 'gisbi-tsclient-'));
    this.port = 0;
    this.proc = undefined;
    this.log = [];
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again, on the same port and data dir after stop()). */
  async start() {
    if (!this.port) this.port = await freePort();
    const proc = spawn(serverBin(), ['serve', '--dev'], {
      env: {
        ...process.env,
        GISBI_ADDR: `127.0.0.1:${this.port}`,
        GISBI_DATA_DIR: this.dataDir,
        GISBI_LOG_LEVEL: process.env.GISBI_LOG_LEVEL ?? 'warn',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const keep = (b) => {
      this.log.push(b.toString());
      if (this.log.length > 200) this.log.shift();
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    let exited = null;
    proc.once('exit', (code, sig) => (exited = { code, sig }));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`gisbi exited (${exited.code ?? exited.sig}) before ready:\n${this.log.join('')}`);
      try {
        const res = await fetch(`${this.baseUrl}/readyz`);
        if (res.status === 200) return this;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`gisbi not ready within 60 s:\n${this.log.join('')}`);
  }

  /** Stops the server with signal (SIGTERM: a graceful shutdown, sockets closed with 1001) and waits for it to exit. */
  async stop(signal = 'SIGTERM') {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }

  async close() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  rest(accessToken) {
    return new GisbiRest({ baseUrl: this.baseUrl, accessToken });
  }

  /** Dev login as handle, then a client for it (not connected yet). */
  async user(handle, opts = {}) {
    const login = await this.rest().devLogin(handle);
    const client = new GisbiClient({
      baseUrl: this.baseUrl,
      accessToken: login.accessToken,
      refreshToken: login.refreshToken,
      WebSocket,
      ...opts,
    });
    return { login, client, id: login.user.id };
  }
}

/** Rejects after ms with what was awaited, so a broken feature fails instead of hanging. */
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}
