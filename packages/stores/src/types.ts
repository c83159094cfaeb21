/**
 * The one store interface NES writes run artifacts through: a flat namespace of keys (slash
 * separated, like GCS object names) holding bytes, a content type and string metadata.
 */
import type { Readable } from 'node:stream';

/** What `put` accepts. Strings are written as UTF-8. A stream is read once and never retried. */
export type PutBody = Uint8Array | string | Readable;

export interface PutOptions {
  /** Default: guessed from the key's extension, else `application/octet-stream`. */
  contentType?: string;
  /** Custom metadata (run id, status...); names and values are strings. */
  metadata?: Record<string, string>;
  /** Create-only: fail with `already_exists` when the key holds an object. */
  ifNotExists?: boolean;
}

export interface ObjectInfo {
  /** Key relative to the store's root (the GCS prefix or the directory). */
  key: string;
  size: number;
  updated: Date;
  contentType: string;
  metadata: Record<string, string>;
  /** GCS: the object generation. Local: the file's inode and modification time. */
  generation: string | null;
}

export interface ListOptions {
  /** `'/'` (default): directory-style, one level, sub-"directories" as `prefixes`. `''`: every key. */
  delimiter?: '/' | '';
}

export interface ListResult {
  /** Sorted by key. */
  objects: ObjectInfo[];
  /** Common prefixes one level below `prefix`, each ending with the delimiter; sorted. */
  prefixes: string[];
}

export interface ObjectStore {
  /** `gs://bucket/prefix/` or `file:///abs/dir/`; never holds a credential. */
  readonly uri: string;
  /** The URI of one key, for manifests and messages. */
  uriOf(key: string): string;
  put(key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo>;
  /** The whole object; `not_found` when absent. */
  get(key: string): Promise<Buffer>;
  /**
   * The object as a stream. The local store fails the promise with `not_found`; GCS opens
   * lazily, so there a missing object surfaces as a `not_found` error on the stream.
   */
  getStream(key: string): Promise<Readable>;
  /** null when absent. */
  stat(key: string): Promise<ObjectInfo | null>;
  /** Keys starting with `prefix` (which may be `''`), paginated internally. */
  list(prefix: string, options?: ListOptions): Promise<ListResult>;
  /** Idempotent: deleting an absent key succeeds. */
  delete(key: string): Promise<void>;
}
