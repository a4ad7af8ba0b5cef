import type { ErrorCode } from './generated.js';

/**
 * Codes the client itself answers with, when no server answer can be had:
 * `closed` (the socket closed before the answer came: the command may or may
 * not have been done; resend it once reconnected, with a clientMessageId for
 * chat messages), `timeout` (no answer within requestTimeoutMs), `network`
 * (a REST request failed before any answer) and `http_error` (a REST answer
 * that is not the server's JSON error body, e.g. a proxy's).
 */
export type ClientErrorCode = 'closed' | 'timeout' | 'network' | 'http_error';

/** The server's error payload: an `error` frame's payload, or a REST error body. */
export interface GisbiErrorInit {
  code: ErrorCode | ClientErrorCode;
  message: string;
  domain?: string;
  requestId?: string;
  details?: unknown;
  /** The HTTP status of a REST error; absent on the socket. */
  status?: number;
}

/** A request the server (or the client, for its own codes) refused. */
export class GisbiError extends Error implements GisbiErrorInit {
  readonly code: ErrorCode | ClientErrorCode;
  readonly domain?: string;
  readonly requestId?: string;
  readonly details?: unknown;
  readonly status?: number;

  constructor(init: GisbiErrorInit) {
    super(init.message || init.code);
    this.name = 'GisbiError';
    this.code = init.code;
    if (init.domain !== undefined) this.domain = init.domain;
    if (init.requestId !== undefined) this.requestId = init.requestId;
    if (init.details !== undefined) this.details = init.details;
    if (init.status !== undefined) this.status = init.status;
  }
}

/** Whether err is a GisbiError with one of the given codes. */
export function isGisbiError(err: unknown, ...codes: (ErrorCode | ClientErrorCode)[]): err is GisbiError {
  return err instanceof GisbiError && (codes.length === 0 || codes.includes(err.code));
}
