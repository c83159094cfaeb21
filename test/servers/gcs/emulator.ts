/**
 * The Cloud Storage emulator from firebase-tools, started in-process on a random loopback port.
 *
 * Its CLI cannot start here (it needs Java for the rules runtime and downloads a rules JAR),
 * but its request handling is plain Node (express). This relies on these firebase-tools
 * internals, which is why the package is pinned to an exact version (15.34.2):
 * - `lib/emulator/storage/index.js` `StorageEmulator`: constructed with `{ projectId }`, never
 *   `start()`ed (start() launches the Java rules runtime). Its constructor builds the storage
 *   layers, the upload service and an idle rules manager; nothing there spawns or downloads.
 *   `getPersistenceTmpDir()` is overridden so blobs go to a private temp directory instead of
 *   the shared `$TMPDIR/firebase/storage/blobs`; `reset()` clears objects.
 * - `lib/emulator/storage/server.js` `createApp(projectId, emulator)`: the express app; only
 *   its GCS JSON API routes (`apis/gcloud.js`) are used, which go through `adminStorageLayer`
 *   and never consult rules (so the rules runtime is not needed: that is the "stub").
 * - `lib/emulator/registry.js` `EmulatorRegistry.set('storage', emulator)` (and `clear` on stop):
 *   object metadata builds its selfLink/mediaLink from the registered emulator's `getInfo()`,
 *   which reads `args.host`/`args.port`, so those are set once the port is known. The registry
 *   is process-wide: one emulator per process at a time.
 * What it does not do (design.md): preconditions (ifGenerationMatch), versioning, ACLs,
 * multi-request resumable uploads, single uploads over 130 MB, bucket create/exists (buckets
 * appear on first use). Put `startGcsProxy` in front to record requests and inject faults.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
export const FIREBASE_TOOLS_VERSION: string = require('firebase-tools/package.json').version;

export interface GcsEmulator {
  /** `http://127.0.0.1:PORT`: the value for STORAGE_EMULATOR_HOST. */
  url: string;
  port: number;
  /** Deletes every object and bucket. */
  reset(): void;
  stop(): Promise<void>;
}

interface EmulatorInternals {
  args: { projectId: string; host?: string; port?: number };
  getName(): string;
  reset(): void;
}

interface Registry {
  get(name: string): unknown;
  set(name: string, instance: unknown): void;
  clear(name: string): void;
}

export async function startGcsEmulator(options: { projectId?: string } = {}): Promise<GcsEmulator> {
  const projectId = options.projectId ?? 'nes-test';
  const blobs = mkdtempSync(join(tmpdir(), 'nes-gcs-emulator-'));
  const { StorageEmulator } = require('firebase-tools/lib/emulator/storage/index.js') as {
    StorageEmulator: new (args: { projectId: string }) => EmulatorInternals;
  };
  const { createApp } = require('firebase-tools/lib/emulator/storage/server.js') as {
    createApp: (
      projectId: string,
      emulator: EmulatorInternals,
    ) => Promise<{ listen: (port: number, host: string, cb: () => void) => Server }>;
  };
  // A subclass, defined here so the directory is in scope when the base constructor calls it.
  class PrivateStorageEmulator extends StorageEmulator {
    getPersistenceTmpDir(): string {
      return blobs;
    }
  }
  const { EmulatorRegistry } = require('firebase-tools/lib/emulator/registry.js') as {
    EmulatorRegistry: Registry;
  };
  if (EmulatorRegistry.get('storage') !== undefined) {
    throw new Error('a storage emulator is already running in this process');
  }
  const emulator = new PrivateStorageEmulator({ projectId });
  const app = await createApp(projectId, emulator);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  emulator.args.host = '127.0.0.1';
  emulator.args.port = port;
  EmulatorRegistry.set(emulator.getName(), emulator);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    reset: () => emulator.reset(),
    stop: async () => {
      EmulatorRegistry.clear(emulator.getName());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(blobs, { recursive: true, force: true });
    },
  };
}
