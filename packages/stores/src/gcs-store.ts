/**
 * Google Cloud Storage through @google-cloud/storage: a bucket and a prefix.
 *
 * Retries: only on 408/429/5xx and connection errors (ECONNRESET, EPIPE, DNS), with the
 * client's exponential back-off and jitter. Never on 4xx answers such as 403 or 404, which would
 * give the same answer again. Two clients share one configuration and differ in one thing:
 * - `#retrying` (idempotencyStrategy RetryAlways) serves reads, lists, deletes (a repeated
 *   delete is harmless: 404 counts as done) and create-only writes, which carry
 *   `ifGenerationMatch=0` and so cannot overwrite anything when repeated;
 * - `#once` (autoRetry off) serves unconditional overwrites of in-memory bodies. Repeating one
 *   after a lost response could clobber a newer write by someone else, so the caller decides
 *   (the notebook sink, sole writer of its object, retries its final save itself).
 * Two clients rather than the library's per-call RetryConditional because that strategy works
 * by flipping `autoRetry` on the shared client for the length of a call, which also turns
 * retries off for any other request in flight at the time.
 * Streams are read once and never retried by us; resumable uploads resume within the library.
 *
 * Uploads: a body of at most `resumableThreshold` bytes (default 8 MiB) goes as one multipart
 * request (`resumable: false`): one round trip instead of two (session + data), nothing to
 * resume for a body that small, and Google's own advice for small objects. Bigger bodies and
 * streams use a resumable session so a dropped connection resumes where it stopped, and are
 * streamed: memory use stays flat whatever the size.
 *
 * The emulator: `STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT` (scheme required) is honoured by
 * the client itself; no auth is sent then.
 */
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type File,
  type FileMetadata,
  IdempotencyStrategy,
  Storage,
  type StorageOptions,
} from '@google-cloud/storage';
import { StoreError } from './errors.ts';
import { checkKey, checkPrefix, compareKeys, guessContentType, normalizePrefix } from './keys.ts';
import type {
  ListOptions,
  ListResult,
  ObjectInfo,
  ObjectStore,
  PutBody,
  PutOptions,
} from './types.ts';

export interface GcsRetryOptions {
  /** Retries after the first attempt. Default 5. */
  maxRetries?: number;
  /** Delay before retry n is multiplier^n seconds plus up to 1 s of jitter. Default 2. */
  delayMultiplier?: number;
  /** Cap of one delay, seconds. Default 32. */
  maxDelaySeconds?: number;
  /** Time allowed for all attempts of one call, seconds. Default 300. */
  totalTimeoutSeconds?: number;
}

export interface GcsStoreOptions {
  bucket: string;
  /** Object name prefix; `runs` and `runs/` are the same. Default: the bucket root. */
  prefix?: string;
  /** Passed to the client (projectId, credentials...). `retryOptions` is ours. */
  storageOptions?: Omit<StorageOptions, 'retryOptions'>;
  retry?: GcsRetryOptions;
  /** Bodies up to this size go in one request. Default 8 MiB. */
  resumableThreshold?: number;
  /** Page size of list calls. Default 1000 (the API's maximum). */
  pageSize?: number;
}

const DEFAULT_RESUMABLE_THRESHOLD = 8 * 1024 * 1024;

/** 408, 429, 5xx, and errors where the connection itself failed. */
export function isRetryableGcsError(error: unknown): boolean {
  const status = httpStatus(error);
  if (status !== null) return status === 408 || status === 429 || (status >= 500 && status < 600);
  const code = String((error as { code?: unknown } | null)?.code ?? '').toLowerCase();
  const reasons = ((error as { errors?: { reason?: unknown }[] } | null)?.errors ?? []).map((e) =>
    String(e?.reason ?? '').toLowerCase(),
  );
  return [code, ...reasons].some(
    (reason) =>
      reason.includes('eai_again') ||
      reason === 'econnreset' ||
      reason === 'econnrefused' ||
      reason === 'epipe' ||
      reason === 'etimedout' ||
      reason === 'unexpected connection closure' ||
      reason === 'socket connection timeout',
  );
}

export class GcsStore implements ObjectStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly uri: string;
  readonly #retrying: Storage;
  readonly #once: Storage;
  readonly #resumableThreshold: number;
  readonly #pageSize: number;
  readonly #backoff: { maxRetries: number; multiplier: number; maxDelayMs: number };

  constructor(options: GcsStoreOptions) {
    if (!/^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$/.test(options.bucket)) {
      throw new StoreError('invalid_key', `invalid bucket name ${JSON.stringify(options.bucket)}`);
    }
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix ?? '');
    this.uri = `gs://${this.bucket}/${this.prefix}`;
    const retry = options.retry ?? {};
    this.#backoff = {
      maxRetries: retry.maxRetries ?? 5,
      multiplier: retry.delayMultiplier ?? 2,
      maxDelayMs: (retry.maxDelaySeconds ?? 32) * 1000,
    };
    const retryOptions: NonNullable<StorageOptions['retryOptions']> = {
      // The client reads maxRetries 0 as "default (3)": turn retries off instead.
      autoRetry: (retry.maxRetries ?? 5) > 0,
      maxRetries: retry.maxRetries ?? 5,
      retryDelayMultiplier: retry.delayMultiplier ?? 2,
      maxRetryDelay: retry.maxDelaySeconds ?? 32,
      totalTimeout: retry.totalTimeoutSeconds ?? 300,
      retryableErrorFn: isRetryableGcsError,
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
    };
    this.#retrying = new Storage({ ...options.storageOptions, retryOptions });
    this.#once = new Storage({
      ...options.storageOptions,
      retryOptions: {
        ...retryOptions,
        autoRetry: false,
        maxRetries: 0,
        idempotencyStrategy: IdempotencyStrategy.RetryNever,
      },
    });
    this.#resumableThreshold = options.resumableThreshold ?? DEFAULT_RESUMABLE_THRESHOLD;
    this.#pageSize = options.pageSize ?? 1000;
  }

  uriOf(key: string): string {
    return `gs://${this.bucket}/${this.prefix}${checkKey(key)}`;
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    checkKey(key);
    const createOnly = options.ifNotExists === true;
    const client = createOnly ? this.#retrying : this.#once;
    const file = this.#file(key, client);
    const contentType = options.contentType ?? guessContentType(key);
    const writeOptions = {
      contentType,
      metadata: { contentType, metadata: { ...options.metadata } },
      // ifGenerationMatch=0: "only if no live object has this name" (GCS JSON API preconditions).
      ...(createOnly ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
    };
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      if (bytes instanceof Uint8Array) {
        await file.save(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
          ...writeOptions,
          resumable: bytes.byteLength > this.#resumableThreshold,
        });
      } else {
        await pipeline(bytes, file.createWriteStream({ ...writeOptions, resumable: true }));
      }
    } catch (error) {
      if (createOnly && httpStatus(error) === 412 && bytes instanceof Uint8Array) {
        // A retried create whose first attempt landed (the answer was lost) also gets 412:
        // the object holding exactly our bytes means the write is done, not a conflict.
        const existing = await this.#metadataOrNull(key);
        if (existing && existing.md5Hash === md5Base64(bytes)) return this.#info(key, existing);
      }
      throw this.#mapError(error, key, 'write');
    }
    return this.#info(key, file.metadata);
  }

  /**
   * Downloads go through the non-retrying client with our own retry loop: the library's retries
   * of a download stream fail after a 5xx ("Cannot pipe to a closed or destroyed stream",
   * @google-cloud/storage 8.4). A whole-object read is safe to repeat.
   */
  async get(key: string): Promise<Buffer> {
    checkKey(key);
    return this.#withRetries(key, 'read', async () => {
      const [contents] = await this.#file(key, this.#once).download();
      return contents;
    });
  }

  /**
   * Opening is retried (until the response headers arrive); once bytes flow, an error ends the
   * stream: the consumer has seen part of the object and only it can decide what to do.
   */
  async getStream(key: string): Promise<Readable> {
    checkKey(key);
    return this.#withRetries(key, 'read', async () => {
      const source = this.#file(key, this.#once).createReadStream();
      const out = new PassThrough();
      await new Promise<void>((resolve, reject) => {
        const early = (error: unknown) => reject(error);
        source.once('error', early);
        source.once('response', () => {
          source.off('error', early);
          source.on('error', (error) => out.destroy(this.#mapError(error, key, 'read')));
          resolve();
        });
        source.pipe(out);
      });
      return out;
    });
  }

  async #withRetries<T>(key: string, action: string, attempt: () => Promise<T>): Promise<T> {
    for (let retry = 0; ; retry += 1) {
      try {
        return await attempt();
      } catch (error) {
        if (retry >= this.#backoff.maxRetries || !isRetryableGcsError(error)) {
          throw this.#mapError(error, key, action);
        }
        const delay = Math.min(
          this.#backoff.maxDelayMs,
          this.#backoff.multiplier ** (retry + 1) * 1000 + Math.random() * 1000,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    const metadata = await this.#metadataOrNull(key);
    return metadata === null ? null : this.#info(key, metadata);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    checkPrefix(prefix);
    const delimiter = options.delimiter ?? '/';
    const result: ListResult = { objects: [], prefixes: [] };
    const bucket = this.#retrying.bucket(this.bucket);
    let pageToken: string | undefined;
    // A prefix can come back on several pages (the emulator repeats them on every page).
    const seenPrefixes = new Set<string>();
    try {
      do {
        const [files, next, response] = await bucket.getFiles({
          prefix: this.prefix + prefix,
          ...(delimiter === '' ? {} : { delimiter }),
          autoPaginate: false,
          maxResults: this.#pageSize,
          ...(pageToken === undefined ? {} : { pageToken }),
        });
        for (const file of files) {
          const key = file.name.slice(this.prefix.length);
          if (key !== '' && !key.endsWith('/')) result.objects.push(this.#info(key, file.metadata));
        }
        const prefixes = (response as { prefixes?: string[] } | undefined)?.prefixes ?? [];
        for (const p of prefixes) seenPrefixes.add(p.slice(this.prefix.length));
        pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
      } while (pageToken);
    } catch (error) {
      throw this.#mapError(error, prefix, 'list');
    }
    result.prefixes = [...seenPrefixes].sort(compareKeys);
    result.objects.sort((a, b) => compareKeys(a.key, b.key));
    return result;
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.#file(key).delete({ ignoreNotFound: true });
    } catch (error) {
      if (httpStatus(error) === 404) return;
      throw this.#mapError(error, key, 'delete');
    }
  }

  #file(key: string, client: Storage = this.#retrying): File {
    return client.bucket(this.bucket).file(this.prefix + key);
  }

  async #metadataOrNull(key: string): Promise<FileMetadata | null> {
    try {
      const [metadata] = await this.#file(key).getMetadata();
      return metadata;
    } catch (error) {
      if (httpStatus(error) === 404) return null;
      throw this.#mapError(error, key, 'stat');
    }
  }

  #info(key: string, metadata: FileMetadata): ObjectInfo {
    const custom: Record<string, string> = {};
    for (const [name, value] of Object.entries(metadata.metadata ?? {})) {
      if (value !== null && value !== undefined) custom[name] = String(value);
    }
    return {
      key,
      size: Number(metadata.size ?? 0),
      updated: new Date(metadata.updated ?? metadata.timeCreated ?? 0),
      contentType: metadata.contentType ?? 'application/octet-stream',
      metadata: custom,
      generation: metadata.generation === undefined ? null : String(metadata.generation),
    };
  }

  /** A StoreError naming bucket and key; the library's message is kept out (it may carry URLs). */
  #mapError(error: unknown, key: string, action: string): StoreError {
    if (error instanceof StoreError) return error;
    const where = `gs://${this.bucket}/${this.prefix}${key}`;
    const status = httpStatus(error);
    const options = { key, status, cause: error };
    switch (status) {
      case 404:
        return new StoreError('not_found', `${where}: not found`, options);
      case 401:
      case 403:
        return new StoreError(
          'forbidden',
          `${where}: ${action} refused (HTTP ${status}): check the credentials' access to bucket ${this.bucket}`,
          options,
        );
      case 409:
      case 412:
        return new StoreError('already_exists', `${where}: already exists`, options);
      default: {
        const reason =
          status !== null
            ? `HTTP ${status}`
            : String((error as { code?: unknown } | null)?.code ?? 'connection error');
        return new StoreError(
          'store_unavailable',
          `${where}: ${action} failed (${reason})${isRetryableGcsError(error) ? ' after retries' : ''}`,
          options,
        );
      }
    }
  }
}

function httpStatus(error: unknown): number | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return code;
  if (typeof code === 'string' && /^\d{3}$/.test(code)) return Number(code);
  const status = (error as { response?: { status?: unknown } } | null)?.response?.status;
  return typeof status === 'number' ? status : null;
}

function md5Base64(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('base64');
}
