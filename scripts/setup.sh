#!/bin/sh
# Idempotent set-up of everything NES needs on this machine:
#   1. npm packages (the root devDependency `node@24` puts Node 24 in node_modules/.bin, which
#      npm scripts put first on PATH, so a machine with an older Node still runs NES on 24);
#   2. a project-local Python environment (.tools/py) with Jupyter Server and kernels.
# Each step is skipped when its inputs have not changed since it last succeeded.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STAMPS="$ROOT/.tools/stamps"
mkdir -p "$STAMPS"

# A stamp records a checksum of the files that drive a step.
checksum() { cat "$@" 2>/dev/null | cksum | cut -d' ' -f1; }
fresh() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }

NPM_INPUTS="package.json package-lock.json $(ls packages/*/package.json services/*/package.json apps/*/package.json test/package.json 2>/dev/null)"
NPM_SUM=$(checksum $NPM_INPUTS)
if ! fresh npm "$NPM_SUM" || [ ! -x node_modules/.bin/node ]; then
  echo "setup: installing npm packages" >&2
  # `npm install` rather than `npm ci`: npm leaves other platforms' optional binaries (biome's)
  # out of the lock file, which `npm ci` then rejects. The lock file still pins every version.
  npm install --no-audit --no-fund --loglevel=error
  echo "$NPM_SUM" > "$STAMPS/npm"
fi

PY_SUM=$(checksum services/runner/python/requirements.txt services/runner/python/requirements-runtime.txt scripts/setup.sh)
if ! fresh python "$PY_SUM" || [ ! -x .tools/py/bin/jupyter-server ]; then
  echo "setup: creating the Python kernel environment in .tools/py" >&2
  python3 -m venv .tools/py
  # The machine's pip has an unreachable default index besides the local mirror: never retry.
  PIP_RETRIES=0 .tools/py/bin/pip install --retries 0 --disable-pip-version-check -q \
    -r services/runner/python/requirements.txt 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  .tools/py/bin/python -c "import jupyter_server, ipykernel" || { echo "setup: Python environment is incomplete" >&2; exit 1; }
  echo "$PY_SUM" > "$STAMPS/python"
fi

# The fork provisioner (services/runner/python/nes_kernel_fork): kernels forked from a template
# that has already imported ipykernel, IPython and common modules. Installed into the kernel
# environment and selected by its python3 kernelspec (a normal start wherever no template runs).
FORK_SUM=$(checksum services/runner/python/nes_kernel_fork/pyproject.toml services/runner/python/nes_kernel_fork/nes_kernel_fork/*.py)
if ! fresh kernel-fork "$FORK_SUM" || ! .tools/py/bin/python -m nes_kernel_fork.kernelspec --check 2>/dev/null; then
  echo "setup: installing the fork provisioner into .tools/py" >&2
  PIP_RETRIES=0 .tools/py/bin/pip install --retries 0 --disable-pip-version-check -q --no-deps \
    ./services/runner/python/nes_kernel_fork 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  .tools/py/bin/python -m nes_kernel_fork.kernelspec || { echo "setup: fork provisioner install failed" >&2; exit 1; }
  echo "$FORK_SUM" > "$STAMPS/kernel-fork"
fi

# The `nes` module (services/runner/python/nes-results: `import nes`, nes.record, nes.exit) in the
# kernel environment, so every notebook NES runs can record results with no install of its own.
NES_MODULE_SUM=$(checksum services/runner/python/nes-results/pyproject.toml services/runner/python/nes-results/nes.py)
if ! fresh nes-module "$NES_MODULE_SUM" || ! .tools/py/bin/python -c "import nes" 2>/dev/null; then
  echo "setup: installing the nes results module into .tools/py" >&2
  PIP_RETRIES=0 .tools/py/bin/pip install --retries 0 --disable-pip-version-check -q --no-deps \
    --force-reinstall services/runner/python/nes-results 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  .tools/py/bin/python -c "import nes" || { echo "setup: the nes module did not install" >&2; exit 1; }
  echo "$NES_MODULE_SUM" > "$STAMPS/nes-module"
fi

# The Airflow provider's test dependencies (pytest, httpx, respx; not Airflow itself) in the same
# environment; scripts/test.sh runs its tests with .tools/py/bin/python -m pytest.
AF_SUM=$(checksum operators/airflow/requirements-test.txt)
if ! fresh airflow-tests "$AF_SUM" || ! .tools/py/bin/python -c "import pytest, httpx, respx, yaml, asgiref" 2>/dev/null; then
  echo "setup: installing the Airflow provider's test dependencies into .tools/py" >&2
  PIP_RETRIES=0 .tools/py/bin/pip install --retries 0 --disable-pip-version-check -q \
    -r operators/airflow/requirements-test.txt 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  .tools/py/bin/python -c "import pytest, httpx, respx, yaml, asgiref" || { echo "setup: provider test dependencies are incomplete" >&2; exit 1; }
  echo "$AF_SUM" > "$STAMPS/airflow-tests"
fi

# Kernels that NES ships besides python3: tslab (TypeScript/JavaScript), registered inside the
# project environment so nothing leaks into the user's ~/.local/share/jupyter.
if [ -x node_modules/.bin/tslab ] && [ ! -d .tools/py/share/jupyter/kernels/tslab ]; then
  echo "setup: registering the TypeScript/JavaScript kernels (tslab)" >&2
  node_modules/.bin/tslab install --prefix "$ROOT/.tools/py" --python "$ROOT/.tools/py/bin/python" \
    --binary "$ROOT/node_modules/.bin/tslab" >&2
fi

# Installs Debian package $1 ($2 says what for) when running as root with apt-get (updating the
# package lists only if the first try fails); otherwise says what is missing (the rest) and goes on.
debian_package() {
  package=$1 purpose=$2
  shift 2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing $purpose (apt-get install $package)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "$package" >&2 \
      || { apt-get update >&2 && apt-get install -y --no-install-recommends "$package" >&2; }
  else
    echo "setup: $*" >&2
  fi
}

# PostgreSQL server binaries for the run store's tests: test/servers/postgres starts a throwaway
# cluster with them (as the `postgres` user the package creates). Skipped when they are there or
# when NES_TEST_DATABASE_URL names a server to use instead.
if [ -z "${NES_TEST_DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  && ! command -v initdb >/dev/null 2>&1; then
  debian_package postgresql "PostgreSQL" \
    "PostgreSQL server binaries not found; install the postgresql package" \
    "or set NES_TEST_DATABASE_URL, else the run store's PostgreSQL tests fail"
fi

# Chromium for the viewer's browser tests (Debian's package, driven by playwright-core; nothing
# downloads a browser). Skipped when a chromium binary is there or NES_CHROMIUM names one.
if [ -z "${NES_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  debian_package chromium "Chromium for the viewer's browser tests" \
    "chromium not found; install Debian's chromium package or set NES_CHROMIUM," \
    "else the viewer's browser tests fail"
fi

# bubblewrap: the local executor runs every notebook in a sandbox made with it (docs/security.md),
# and as root it runs them as the unprivileged user nes-sandbox. Without it the service still
# starts (NES_SANDBOX=auto) but warns that runs are not isolated; the sandbox tests need it.
if ! command -v bwrap >/dev/null 2>&1; then
  debian_package bubblewrap "bubblewrap for the run sandbox" \
    "bwrap not found; install the bubblewrap package, else runs of the local" \
    "executor are not sandboxed and the sandbox tests fail"
fi
if [ "$(id -u)" = 0 ] && ! getent passwd nes-sandbox >/dev/null 2>&1 && command -v useradd >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin nes-sandbox >&2 || true
fi

# Docker for the image tier of the tests (test/images: both images built and run as the
# manifests run them). Skipped when a Docker engine is there or NES_SKIP_IMAGES=1.
if [ "${NES_SKIP_IMAGES:-}" != 1 ] && ! command -v dockerd >/dev/null 2>&1; then
  debian_package docker.io "Docker for the image tests" \
    "no Docker engine; install docker.io (the image tests need one, as root)"
fi

# The viewer's production build (apps/viewer/dist), which the API serves. Rebuilt when the
# viewer's sources or the packages it bundles change.
if [ -f apps/viewer/vite.config.ts ]; then
  VIEWER_SUM=$(find apps/viewer/src apps/viewer/index.html apps/viewer/frame.html apps/viewer/vite.config.ts \
    apps/viewer/package.json packages/client/src packages/notebook/src packages/run-contract/src -type f 2>/dev/null | sort | xargs cat | cksum | cut -d' ' -f1)
  if ! fresh viewer "$VIEWER_SUM" || [ ! -f apps/viewer/dist/index.html ]; then
    echo "setup: building the viewer (apps/viewer/dist)" >&2
    npm run --silent build -w @nes/viewer >&2
    echo "$VIEWER_SUM" > "$STAMPS/viewer"
  fi
fi
