#!/bin/sh
# Every test of the project: static checks first (types, lint), then the suites on real kernels.
# Node's test runner prints the summary CI reads (`ℹ pass N`, `ℹ fail N`) as its closing lines.
set -eu
cd "$(dirname "$0")/.."
echo "test: typecheck" >&2
# tslab bundles an old TypeScript that also claims the `tsc` bin name: call ours by path.
node node_modules/typescript/bin/tsc -p tsconfig.json
if [ -f apps/viewer/tsconfig.json ]; then
  node node_modules/typescript/bin/tsc -p apps/viewer/tsconfig.json
fi
echo "test: lint" >&2
biome check --diagnostic-level=error .
echo "test: Airflow provider (pytest)" >&2
.tools/py/bin/python -m pytest -q -p no:cacheprovider operators/airflow/tests
echo "test: fork provisioner (pytest, real kernels)" >&2
.tools/py/bin/python -m pytest -q -p no:cacheprovider services/runner/python/nes_kernel_fork/tests
if [ -f apps/viewer/vitest.config.ts ]; then
  echo "test: viewer components (vitest, jsdom)" >&2
  (cd apps/viewer && ../../node_modules/.bin/vitest run --config vitest.config.ts)
fi
echo "test: suites" >&2
# Test files run two at a time, each with its own services and kernels, and every one waits for
# its runs: runs in the services the suites start are not niced behind the other files'
# processes (NES_RUN_NICE is the service's default, for a machine it shares with its runs only;
# scheduler-local.test.ts checks the niceness itself).
export NES_RUN_NICE="${NES_RUN_NICE:-0}"
exec node --test --test-reporter=spec --test-concurrency=2 --test-timeout=300000 \
  'packages/*/test/**/*.test.ts' 'services/*/test/**/*.test.ts' 'test/**/*.test.ts' \
  'apps/*/e2e/**/*.test.ts'
