import type { ConversationSummary, LegacyMessage, Message, Score, User } from './generated.js';
import { GisbiError } from './errors.js';

/** The pair of tokens a login or a refresh answers. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/** POST /auth/social-login's answer. */
export interface LoginResponse extends Tokens {
  /** A Firebase custom token when the server has Firebase credentials, else null. */
  firebaseToken: string | null;
  user: User;
}

export interface SocialLoginRequest {
  provider: 'google' | 'apple' | 'dev';
  idToken: string;
  deviceToken?: string;
  devicePlatform?: 'android' | 'ios' | 'web';
}

/** PATCH /users/profile: every field optional; null or "" clears where allowed. */
export interface ProfilePatch {
  name?: string;
  avatar?: string | null;
  age?: number | null;
  gender?: string | null;
  username?: string | null;
  bio?: string | null;
  vibe?: string | null;
  vibeDurationMinutes?: number;
}

/** A user as the legacy connections and chats routes show it. */
export interface LegacyUser {
  _id: string;
  name: string;
  username: string | null;
  photo: string | null;
  bio?: string | null;
}

/** An item of GET /connections (spec 002): a request, or the connection it became. */
export interface LegacyConnection {
  _id: string;
  from: LegacyUser;
  to: LegacyUser;
  status: 'pending' | 'accepted' | 'cancelled' | 'rejected';
  createdAt: string;
  acceptedAt?: string;
  /** The other side. */
  user?: LegacyUser;
}

export interface ConnectionsPage {
  connections: LegacyConnection[];
  /** Everything matching the filter, not the page size. */
  count: number;
}

export interface ConversationsResponse {
  /** Keyed by the other user's id. */
  conversations: Record<string, ConversationSummary>;
  unreadMessageCount: Record<string, number>;
  totalUnreadMessageCount: number;
}

export interface MessagesPage<M> {
  /** Newest first. */
  messages: M[];
  /** Pass as `before` for the next page; null on the last one. */
  nextBefore: string | null;
}

export interface Chat {
  _id: string;
  /** Both participants, the caller first. */
  users: LegacyUser[];
  lastMessage: LegacyMessage | null;
  unreadCount: number;
}

export interface ProximityToken {
  token: string;
  expiresAt: string;
  connectionId: string;
}

export interface ProximitySummary {
  connectionId: string;
  accumulatedSeconds: number;
  accumulatedMinutes: number;
  unlockedMilestones: number[];
  nextMilestone: number | null;
  secondsUntilNext: number | null;
  sessions: { startedAt: string; durationSeconds: number; status: string }[];
}

export interface RestOptions {
  /** http(s)://host:port of the server. */
  baseUrl: string;
  /** The access token to send, read at each request (the client refreshes it). */
  accessToken?: string | (() => string | undefined);
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined>;

/** The REST routes of GISBI. Every method throws a GisbiError on a non-2xx answer. */
export class GisbiRest {
  readonly baseUrl: string;
  private readonly token: () => string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(opts: RestOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    const t = opts.accessToken;
    this.token = typeof t === 'function' ? t : () => t;
    // Bound: a bare `fetch` called as a method throws "Illegal invocation" in browsers.
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Any route: method, path (with its query) and an optional JSON body. */
  async call<T>(method: string, path: string, opts: { body?: unknown; query?: Query; auth?: boolean } = {}): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = opts.auth === false ? undefined : this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
    } catch (err) {
      throw new GisbiError({ code: 'network', message: `${method} ${path}: ${(err as Error)?.message ?? err}` });
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const e = (body ?? {}) as { code?: string; detail?: string };
      if (typeof e.code === 'string') {
        throw new GisbiError({ code: e.code as GisbiError['code'], message: e.detail ?? e.code, status: res.status });
      }
      throw new GisbiError({ code: 'http_error', message: `${method} ${path}: HTTP ${res.status}`, status: res.status });
    }
    return body as T;
  }

  socialLogin(body: SocialLoginRequest): Promise<LoginResponse> {
    return this.call('POST', '/auth/social-login', { body, auth: false });
  }

  /** Dev mode only: signs in as `handle`, creating the user on first use. */
  devLogin(handle: string): Promise<LoginResponse> {
    return this.socialLogin({ provider: 'dev', idToken: handle });
  }

  /** Rotates the tokens: the refresh token given is spent. */
  refresh(refreshToken: string): Promise<Tokens> {
    return this.call('POST', '/auth/refresh', { body: { refreshToken }, auth: false });
  }

  logout(body: { refreshToken?: string; deviceToken?: string } = {}): Promise<{ status: 'ok' }> {
    return this.call('POST', '/auth/logout', { body });
  }

  deleteAccount(reason: string): Promise<{ status: 'ok' }> {
    return this.call('POST', '/auth/delete-account', { body: { reason } });
  }

  registerDevice(token: string, platform: 'android' | 'ios' | 'web'): Promise<{ status: 'ok'; device: { token: string; platform: string; isActive: boolean } }> {
    return this.call('POST', '/devices/register', { body: { token, platform } });
  }

  me(): Promise<User> {
    return this.call('GET', '/users/me');
  }

  updateProfile(patch: ProfilePatch): Promise<User> {
    return this.call('PATCH', '/users/profile', { body: patch });
  }

  connections(query: { page?: number; limit?: number; status?: 'pending' | 'accepted' } = {}): Promise<ConnectionsPage> {
    return this.call('GET', '/connections', { query });
  }

  /** Sends a connection request (the target needs an active vibe on this route). */
  sendConnectionRequest(userId: string): Promise<{ connection: LegacyConnection }> {
    return this.call('POST', `/connections/${encodeURIComponent(userId)}`);
  }

  /** Accepts the pending request userId sent the caller. */
  acceptConnection(userId: string): Promise<{ connection: LegacyConnection }> {
    return this.call('POST', `/connections/${encodeURIComponent(userId)}/accept`);
  }

  /** Cancels (sender) or declines (receiver) the pending request between the two. */
  deleteConnection(userId: string): Promise<{ connection: LegacyConnection }> {
    return this.call('DELETE', `/connections/${encodeURIComponent(userId)}`);
  }

  conversations(): Promise<ConversationsResponse> {
    return this.call('GET', '/conversations');
  }

  conversationMessages(userId: string, query: { before?: string; limit?: number } = {}): Promise<MessagesPage<Message>> {
    return this.call('GET', `/conversations/${encodeURIComponent(userId)}/messages`, { query });
  }

  chats(): Promise<{ chats: Chat[] }> {
    return this.call('GET', '/chats');
  }

  chatMessages(chat: string, query: { before?: string; limit?: number } = {}): Promise<MessagesPage<LegacyMessage>> {
    return this.call('GET', `/chats/${encodeURIComponent(chat)}/messages`, { query });
  }

  /** Answers once the message is durably stored; resending with the same clientMessageId is safe. */
  sendChatMessage(chat: string, body: { content: string; clientMessageId?: string }): Promise<{ message: LegacyMessage }> {
    return this.call('POST', `/chats/${encodeURIComponent(chat)}/messages`, { body });
  }

  score(): Promise<Score> {
    return this.call('GET', '/score');
  }

  completeScoreAction(type: string): Promise<Score> {
    return this.call('POST', `/score/actions/${encodeURIComponent(type)}`);
  }

  proximityToken(connectionId: string): Promise<ProximityToken> {
    return this.call('POST', `/connections/${encodeURIComponent(connectionId)}/proximity/token`);
  }

  proximitySummary(connectionId: string): Promise<ProximitySummary> {
    return this.call('GET', `/connections/${encodeURIComponent(connectionId)}/proximity/summary`);
  }
}
