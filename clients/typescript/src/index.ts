export * from './generated.js';
export { GisbiClient } from './client.js';
export type {
  Bootstrap,
  ClientEvents,
  ConnectionState,
  GisbiClientOptions,
  ServerFrame,
  StateChange,
  WebSocketConstructor,
  WebSocketLike,
} from './client.js';
export { GisbiError, isGisbiError } from './errors.js';
export type { ClientErrorCode, GisbiErrorInit } from './errors.js';
export { GisbiRest } from './rest.js';
export type * from './rest.js';
