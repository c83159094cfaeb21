export {
  type AllowList,
  checkUrlHost,
  forbiddenRange,
  parseAllowList,
} from './address-guard.ts';
export {
  isSourceError,
  redact,
  SourceError,
  type SourceErrorCode,
  type SourceErrorOptions,
} from './errors.ts';
export {
  type ChangedFile,
  type Comparison,
  GitHubClient,
  type GitHubRepository,
} from './github.ts';
export { guardedFetch } from './https.ts';
export {
  DEFAULT_GITHUB_API_URL,
  DEFAULT_MAX_CONTEXT_BYTES,
  DEFAULT_MAX_NOTEBOOK_BYTES,
  type GcsObjectReader,
  type SourceOptions,
  sourceOptionsFromEnv,
} from './options.ts';
export {
  type ContextOptions,
  fetchRepositoryContext,
  type RepositoryContext,
  type ResolvedSource,
  type ResolveOptions,
  resolveSource,
  type SourceRecord,
} from './resolve.ts';
export { backoffDelay, defaultRetryPolicy, type RetryPolicy, withRetry } from './retry.ts';
export { type ExtractOptions, type ExtractResult, extractTarball } from './tarball.ts';
export {
  type GcsLocation,
  type GitHubLocation,
  githubUriAt,
  type HttpsLocation,
  type LocalLocation,
  parseSourceUri,
  pinnedSourceUri,
  type SourceKind,
  type SourceLocation,
  safeUri,
} from './uri.ts';
