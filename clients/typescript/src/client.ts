import { closeRules, commandReplies } from './generated.js';
import type { ClientCommands, ErrorCode, Reconnect, ServerEvents } from './generated.js';
import { GisbiError } from './errors.js';
import { GisbiRest, type Tokens } from './rest.js';

/** What the client needs of a WebSocket: the browser's, Node 22's global one, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (ev: any) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * idle: never connected; connecting: the first connect() is under way;
 * open: session.bootstrap arrived; reconnecting: the socket closed and the
 * close code says to come back (a timer or a token refresh is pending);
 * closed: close() was called or the close code says not to reconnect.
 */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** The close code and reason that caused this change, when a socket closed. */
  code?: number;
  reason?: string;
  /** What the close code's rule said (unknown codes count as `yes`). */
  rule?: Reconnect;
  /** reconnecting: the attempt number (1 for the first retry) and the delay before it. */
  attempt?: number;
  delayMs?: number;
  /** closed: why the client gave up, when it was not a close code (a refused refresh, say). */
  error?: unknown;
}

/** A server frame on /ws. */
export interface ServerFrame<T = unknown> {
  type: string;
  payload: T;
  timestamp?: string;
  requestId?: string;
  correlationId?: string;
}

export type Bootstrap = ClientCommands['session.start']['reply'];

/** Everything `on` can listen to: the server's events, plus the client's own `state` and `bootstrap`. */
export type ClientEvents = ServerEvents & {
  /** The connection's state changed. */
  state: StateChange;
  /** A session started (first connect and every reconnect): the whole state afresh. */
  bootstrap: Bootstrap;
};

export interface GisbiClientOptions {
  /** http(s)://host:port of the server; /ws is opened on its ws(s) twin. */
  baseUrl: string;
  accessToken: string;
  /** Without it the client cannot refresh: the socket ends with 4001 when the access token expires. */
  refreshToken?: string;
  /** Called with every new pair of tokens; persist them (the old refresh token is spent). */
  onTokens?: (tokens: Tokens) => void;
  /** The WebSocket class; defaults to globalThis.WebSocket (browsers, Node 22+). On Node 20 pass `ws`. */
  WebSocket?: WebSocketConstructor;
  fetch?: typeof fetch;
  /**
   * Where to resume from on the first connect (a timestamp the app kept from
   * an earlier run, see `lastSeenAt`): messages created since are replayed
   * as chat.message.created events after the bootstrap.
   */
  lastSeenAt?: string;
  /** How far before the last frame seen the replay starts, to cover messages stamped before it but stored after. Default 2000. */
  replayOverlapMs?: number;
  /** A request not answered within this is rejected with code `timeout`. Default 30000. */
  requestTimeoutMs?: number;
  /** Reconnect backoff: the first delay and the cap, both before jitter. Defaults 1000 and 60000. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** Refresh the access token this long before it expires. Default: a quarter of its lifetime, at most 60 s. */
  refreshBeforeExpiryMs?: number;
  /**
   * Refresh on a timer before expiry (default true). When false, tokens are
   * refreshed only when a close code asks for it (4001) or refreshTokens()
   * is called.
   */
  autoRefresh?: boolean;
}

type Handler = (payload: any, frame: ServerFrame | undefined) => void;

interface Pending {
  resolve: (payload: any) => void;
  reject: (err: GisbiError) => void;
  /** The frame type that completes the request; earlier answers are skipped. */
  final: string | undefined;
  timer: ReturnType<typeof setTimeout>;
}

// Replayed and live copies of a message are told apart by id; this many
// recent ids are remembered.
const seenMessagesMax = 2000;

/**
 * A GISBI session over /ws: connects and bootstraps, correlates requests
 * with their answers, delivers events, refreshes the access token before it
 * expires, and reconnects as the close code says, replaying what it missed.
 */
export class GisbiClient {
  /** The REST routes, authenticated with this client's current access token. */
  readonly rest: GisbiRest;

  private opts: GisbiClientOptions;
  private accessToken: string;
  private refreshToken: string | undefined;
  private tokenReceivedAt = Date.now();
  private readonly WS: WebSocketConstructor;

  private socket: WebSocketLike | undefined;
  private currentState: ConnectionState = 'idle';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly handlers = new Map<string, Set<Handler>>();
  private lastSeenMs: number | undefined;
  private readonly seenMessages = new Set<string>();

  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<void> | undefined;
  private needsAuth = false;
  private stopped = false;
  /** Waiters for the state to become open (connect() and requests sent while down). */
  private openWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private lastBootstrap: Bootstrap | undefined;

  constructor(opts: GisbiClientOptions) {
    this.opts = opts;
    this.accessToken = opts.accessToken;
    this.refreshToken = opts.refreshToken;
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new Error('no WebSocket: pass the WebSocket option (e.g. the ws package on Node 20)');
    this.WS = WS;
    if (opts.lastSeenAt) this.lastSeenMs = Date.parse(opts.lastSeenAt);
    this.rest = new GisbiRest({
      baseUrl: opts.baseUrl,
      accessToken: () => this.accessToken,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The current tokens (after refreshes). */
  get tokens(): { accessToken: string; refreshToken: string | undefined } {
    return { accessToken: this.accessToken, refreshToken: this.refreshToken };
  }

  /**
   * The timestamp of the last server frame seen, as RFC 3339: keep it to
   * resume a later run from there (the `lastSeenAt` option).
   */
  get lastSeenAt(): string | undefined {
    return this.lastSeenMs === undefined ? undefined : new Date(this.lastSeenMs).toISOString();
  }

  /**
   * Opens the socket and starts the session; resolves with the bootstrap.
   * A socket that fails or closes is retried as the close code says;
   * connect() rejects only when the client gives up (state `closed`).
   */
  connect(): Promise<Bootstrap> {
    if (this.currentState === 'open' && this.lastBootstrap !== undefined) return Promise.resolve(this.lastBootstrap);
    if (this.currentState === 'idle' || this.currentState === 'closed') {
      this.stopped = false;
      this.attempt = 0;
      this.setState({ state: 'connecting' });
      void this.open();
    }
    return this.waitOpen().then(() => this.lastBootstrap as Bootstrap);
  }

  /** Closes the socket for good (until the next connect()). Pending requests reject with `closed`. */
  close(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    const s = this.socket;
    this.socket = undefined;
    this.failPending('client closed');
    if (s) s.close(1000, 'client closed');
    if (this.currentState !== 'closed') this.setState({ state: 'closed', code: 1000, reason: 'client closed' });
  }

  /**
   * Sends a command and resolves with its answer's payload: for commands
   * answered by several frames (session.start, presence.location_update),
   * the last of them. An `error` frame rejects with a GisbiError of its
   * code. Sent while the socket is down, the command waits for the next
   * session (and rejects with `closed` if the client gives up).
   */
  async request<K extends keyof ClientCommands>(type: K, payload: ClientCommands[K]['payload']): Promise<ClientCommands[K]['reply']> {
    const replies = (commandReplies as Record<string, readonly string[]>)[type as string];
    if (this.currentState !== 'open') await this.waitOpen();
    return this.send(type as string, payload, replies?.[replies.length - 1]) as Promise<ClientCommands[K]['reply']>;
  }

  /** Listens to an event (or `state`, `bootstrap`); answers a function that stops listening. */
  on<K extends keyof ClientEvents>(type: K, handler: (payload: ClientEvents[K], frame: ServerFrame<ClientEvents[K]> | undefined) => void): () => void {
    let set = this.handlers.get(type as string);
    if (!set) this.handlers.set(type as string, (set = new Set()));
    set.add(handler as Handler);
    return () => set.delete(handler as Handler);
  }

  /** Resolves with the next `type` event whose payload passes `match` (default: any). */
  once<K extends keyof ClientEvents>(type: K, match: (payload: ClientEvents[K]) => boolean = () => true): Promise<ClientEvents[K]> {
    return new Promise((resolve) => {
      const off = this.on(type, (p) => {
        if (match(p)) {
          off();
          resolve(p);
        }
      });
    });
  }

  /**
   * Gets a fresh pair of tokens now (POST /auth/refresh) and, when the
   * socket is open, extends it with session.refresh. Concurrent calls share
   * one refresh: a refresh token is spent by its first use.
   */
  refreshTokens(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  // ---- internals ----

  private async doRefresh(): Promise<void> {
    if (!this.refreshToken) throw new GisbiError({ code: 'unauthorized', message: 'no refresh token to refresh with' });
    const t = await this.rest.refresh(this.refreshToken);
    this.accessToken = t.accessToken;
    this.refreshToken = t.refreshToken;
    this.tokenReceivedAt = Date.now();
    this.needsAuth = false;
    this.opts.onTokens?.({ accessToken: t.accessToken, refreshToken: t.refreshToken });
    if (this.currentState === 'open' && this.socket) {
      await this.send('session.refresh', { accessToken: t.accessToken }, 'session.refresh');
    }
    this.scheduleRefresh();
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    if (!this.refreshToken || this.stopped || this.opts.autoRefresh === false) return;
    const claims = jwtTimes(this.accessToken);
    if (!claims) return;
    // From the token's own lifetime and the local instant it arrived, so a
    // skewed device clock does not matter.
    const lifetime = claims.exp - claims.iat;
    const margin = this.opts.refreshBeforeExpiryMs ?? Math.min(60_000, lifetime / 4);
    const delay = Math.max(0, this.tokenReceivedAt + lifetime - margin - Date.now());
    this.refreshTimer = setTimeout(() => {
      this.refreshTokens().catch((err) => {
        // A refused refresh token cannot be retried; the server ends the
        // socket with 4001 at expiry and the close path gives up then.
        if (err instanceof GisbiError && err.status !== undefined && err.status < 500) return;
        if (!this.stopped) this.refreshTimer = setTimeout(() => this.scheduleRefresh(), 5_000);
      });
    }, delay);
  }

  /** Whether the access token is expired or about to be, by its own lifetime. */
  private tokenStale(): boolean {
    const claims = jwtTimes(this.accessToken);
    if (!claims) return false;
    return Date.now() >= this.tokenReceivedAt + (claims.exp - claims.iat) - 1_000;
  }

  private wsUrl(): string {
    const u = new URL(this.opts.baseUrl.replace(/\/+$/, '') + '/ws');
    u.protocol = u.protocol === 'https:' ? 'wss:' : u.protocol === 'http:' ? 'ws:' : u.protocol;
    // Browsers cannot set headers on a WebSocket handshake.
    u.searchParams.set('access_token', this.accessToken);
    return u.toString();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    if ((this.needsAuth || this.tokenStale()) && this.refreshToken) {
      try {
        await this.refreshTokens();
      } catch (err) {
        if (err instanceof GisbiError && err.status !== undefined && err.status < 500) {
          this.giveUp({ error: err });
        } else {
          this.scheduleReconnect({});
        }
        return;
      }
    } else if (this.needsAuth) {
      this.giveUp({ error: new GisbiError({ code: 'token_expired', message: 'the access token expired and there is no refresh token' }) });
      return;
    }
    if (this.stopped) return;
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.wsUrl());
    } catch (err) {
      this.giveUp({ error: err });
      return;
    }
    this.socket = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      if (this.socket !== ws) return;
      opened = true;
      const start: { lastSeenAt?: string } = {};
      if (this.lastSeenMs !== undefined) {
        start.lastSeenAt = new Date(this.lastSeenMs - (this.opts.replayOverlapMs ?? 2_000)).toISOString();
      }
      this.send('session.start', start, 'session.bootstrap').then(
        (bootstrap) => this.started(ws, bootstrap as Bootstrap),
        () => {
          // The socket closed (handled there) or the server refused the
          // start: end this socket and let the close path decide.
          if (this.socket === ws) ws.close(4000, 'session.start failed');
        },
      );
    });
    ws.addEventListener('message', (ev: { data: unknown }) => {
      if (this.socket !== ws) return;
      this.onMessage(ev.data);
    });
    ws.addEventListener('close', (ev: { code: number; reason: string }) => {
      if (this.socket !== ws) return;
      this.socket = undefined;
      void this.onClose(ev.code, ev.reason ?? '', opened);
    });
    ws.addEventListener('error', () => {
      // A close event follows every error; it decides.
    });
  }

  private started(ws: WebSocketLike, bootstrap: Bootstrap): void {
    if (this.socket !== ws) return;
    this.attempt = 0;
    this.lastBootstrap = bootstrap;
    this.setState({ state: 'open' });
    this.emit('bootstrap', bootstrap, undefined);
    this.scheduleRefresh();
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private async onClose(code: number, reason: string, opened: boolean): Promise<void> {
    clearTimeout(this.refreshTimer);
    this.failPending(`socket closed (${code}${reason ? ' ' + reason : ''})`);
    if (this.stopped) return;
    let rule: Reconnect = closeRules[code]?.reconnect ?? 'yes';
    if (!opened && rule === 'yes') {
      // A refused handshake reads as 1006 (browsers hide the HTTP answer):
      // ask REST whether the token is the reason.
      rule = await this.probeAuth();
      if (this.stopped) return;
    }
    if (rule === 'no') {
      this.giveUp({ code, reason, rule });
      return;
    }
    if (rule === 'after-auth') {
      if (!this.refreshToken) {
        this.giveUp({ code, reason, rule, error: new GisbiError({ code: 'token_expired', message: `closed with ${code}: a fresh access token is needed and there is no refresh token` }) });
        return;
      }
      this.needsAuth = true;
    }
    this.scheduleReconnect({ code, reason, rule });
  }

  private async probeAuth(): Promise<Reconnect> {
    try {
      await this.rest.me();
      return 'yes';
    } catch (err) {
      if (!(err instanceof GisbiError)) return 'yes';
      if (err.code === 'token_expired' || err.code === 'unauthorized') return 'after-auth';
      if (err.code === 'account_deleted' || err.code === 'account_terminated') return 'no';
      return 'yes';
    }
  }

  private scheduleReconnect(change: Partial<StateChange>): void {
    if (this.stopped) return;
    this.attempt++;
    const base = this.opts.reconnectDelayMs ?? 1_000;
    const cap = this.opts.maxReconnectDelayMs ?? 60_000;
    const exp = Math.min(cap, base * 2 ** Math.min(this.attempt - 1, 30));
    // Half fixed, half random: clients cut by one event do not come back in step.
    const delayMs = Math.round(exp / 2 + Math.random() * (exp / 2));
    this.setState({ ...change, state: 'reconnecting', attempt: this.attempt, delayMs });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.open(), delayMs);
  }

  private giveUp(change: Partial<StateChange>): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    this.setState({ ...change, state: 'closed' });
    const err = change.error instanceof Error ? change.error
      : new GisbiError({ code: 'closed', message: `closed${change.code !== undefined ? ` with ${change.code}` : ''}${change.reason ? `: ${change.reason}` : ''}` });
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private waitOpen(): Promise<void> {
    if (this.currentState === 'open') return Promise.resolve();
    if (this.currentState === 'closed' || this.currentState === 'idle') {
      return Promise.reject(new GisbiError({ code: 'closed', message: `not connected (${this.currentState})` }));
    }
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  private setState(change: Partial<StateChange> & { state: ConnectionState }): void {
    const ev: StateChange = { ...change, previous: this.currentState };
    this.currentState = change.state;
    this.emit('state', ev, undefined);
  }

  private send(type: string, payload: unknown, final: string | undefined): Promise<unknown> {
    const ws = this.socket;
    if (!ws || ws.readyState !== 1) {
      return Promise.reject(new GisbiError({ code: 'closed', message: `${type}: the socket is not open` }));
    }
    const requestId = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new GisbiError({ code: 'timeout', message: `${type}: no answer within ${this.opts.requestTimeoutMs ?? 30_000} ms`, requestId }));
      }, this.opts.requestTimeoutMs ?? 30_000);
      this.pending.set(requestId, { resolve, reject, final, timer });
      ws.send(JSON.stringify({ type, payload, requestId }));
    });
  }

  private failPending(why: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new GisbiError({ code: 'closed', message: why, requestId: id }));
    }
    this.pending.clear();
  }

  private onMessage(data: unknown): void {
    let f: ServerFrame;
    try {
      f = JSON.parse(typeof data === 'string' ? data : String(data)) as ServerFrame;
    } catch {
      return; // the server sends JSON text only
    }
    if (!f || typeof f.type !== 'string') return;
    if (typeof f.timestamp === 'string') {
      const t = Date.parse(f.timestamp);
      if (!Number.isNaN(t) && (this.lastSeenMs === undefined || t > this.lastSeenMs)) this.lastSeenMs = t;
    }
    const p = f.requestId !== undefined ? this.pending.get(f.requestId) : undefined;
    if (p && f.requestId !== undefined) {
      if (f.type === 'error') {
        this.pending.delete(f.requestId);
        clearTimeout(p.timer);
        const e = (f.payload ?? {}) as { code?: ErrorCode; message?: string; domain?: string; details?: unknown };
        p.reject(new GisbiError({
          code: e.code ?? 'internal',
          message: e.message ?? '',
          requestId: f.requestId,
          ...(e.domain !== undefined ? { domain: e.domain } : {}),
          ...(e.details !== undefined ? { details: e.details } : {}),
        }));
      } else if (p.final === undefined || f.type === p.final) {
        this.pending.delete(f.requestId);
        clearTimeout(p.timer);
        this.remember(f);
        p.resolve(f.payload);
      }
      return;
    }
    if (f.type === 'chat.message.created' && !this.remember(f)) return; // a replayed copy
    this.emit(f.type, f.payload, f);
  }

  /** Records a chat message's id; false when it was seen before. */
  private remember(f: ServerFrame): boolean {
    if (f.type !== 'chat.message.created') return true;
    const id = (f.payload as { messageId?: unknown } | null)?.messageId;
    if (typeof id !== 'string') return true;
    if (this.seenMessages.has(id)) return false;
    this.seenMessages.add(id);
    if (this.seenMessages.size > seenMessagesMax) {
      const oldest = this.seenMessages.values().next().value;
      if (oldest !== undefined) this.seenMessages.delete(oldest);
    }
    return true;
  }

  private emit(type: string, payload: unknown, frame: ServerFrame | undefined): void {
    const set = this.handlers.get(type);
    if (!set) return;
    for (const h of [...set]) {
      try {
        h(payload, frame);
      } catch (err) {
        // A throwing handler must not break the socket's read loop.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

/** iat and exp of a JWT, in ms; undefined when it is not one. */
function jwtTimes(token: string): { iat: number; exp: number } | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))) as { iat?: unknown; exp?: unknown };
    if (typeof json.exp !== 'number') return undefined;
    const iat = typeof json.iat === 'number' ? json.iat : json.exp - 900;
    return { iat: iat * 1000, exp: json.exp * 1000 };
  } catch {
    return undefined;
  }
}
