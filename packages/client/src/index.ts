export {
  type CallOptions,
  type FetchLike,
  NesClient,
  type NesClientOptions,
  type RetryPolicy,
  type StreamOptions,
  type SubmitOptions,
  toJsonBody,
} from './client.ts';
export { isAbortError, NesApiError, NesConnectionError } from './errors.ts';
export * from './notification-types.ts';
export { type SseMessage, SseParser } from './sse.ts';
export * from './types.ts';
