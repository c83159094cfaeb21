/**
 * The official Kubernetes OpenAPI v2 specification, vendored gzipped beside this file so the
 * strict checks never depend on anything outside the repository. `NES_K8S_OPENAPI` may name
 * another (uncompressed) copy, e.g. a newer release.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export const VENDORED_SPEC = new URL('./spec/swagger-v1.35.json.gz', import.meta.url);

/** Parsed once per process: the file is 4 MB of JSON. */
let cached: unknown = null;

export function loadKubernetesSpec(): unknown {
  if (cached !== null) return cached;
  const override = process.env.NES_K8S_OPENAPI;
  const text = override
    ? readFileSync(override, 'utf8')
    : gunzipSync(readFileSync(VENDORED_SPEC)).toString('utf8');
  cached = JSON.parse(text);
  return cached;
}
