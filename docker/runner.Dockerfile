# The runner image: Node 24, nes-run and its runtime dependencies, and the Python kernel
# environment with the Jupyter Server tunings (services/runner/python/jupyter_server_config.py,
# loaded by nes-run). Build from the repository root (the context is the allow-list in
# .dockerignore):
#   docker build -f docker/runner.Dockerfile -t nes-runner:dev .
# Nothing else: no API, viewer, Kubernetes client or database (sizes: docs/kubernetes.md).

FROM node:24-bookworm-slim AS python
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY services/runner/python/requirements-runtime.txt /opt/nes/requirements.txt
# The `nes` module (`import nes`: nes.record, nes.exit), no dependencies of its own.
COPY services/runner/python/nes-results /opt/nes/nes-results
RUN python3 -m venv /opt/nes/py \
 && /opt/nes/py/bin/pip install --no-cache-dir --disable-pip-version-check -r /opt/nes/requirements.txt \
 && /opt/nes/py/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps /opt/nes/nes-results \
 && /opt/nes/py/bin/python -m ipykernel install --prefix /opt/nes/py \
 && find /opt/nes/py -name __pycache__ -prune -exec rm -rf {} +

# nes-run as users install it: the public packages compiled to JavaScript by the same build as
# their npm tarballs (scripts/build-packages.ts), not TypeScript stripped at every start.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json docker/workspaces.mjs ./
COPY packages/run-contract/package.json ./packages/run-contract/
COPY packages/notebook/package.json ./packages/notebook/
COPY packages/client/package.json ./packages/client/
COPY packages/stores/package.json ./packages/stores/
COPY packages/sources/package.json ./packages/sources/
COPY packages/cli/package.json ./packages/cli/
COPY services/runner/package.json ./services/runner/
RUN node workspaces.mjs --build packages/run-contract packages/notebook packages/client \
      packages/stores packages/sources packages/cli services/runner \
 && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
COPY scripts/build-packages.ts ./scripts/
COPY packages ./packages
COPY services/runner ./services/runner
RUN node scripts/build-packages.ts --no-pack

# The runtime dependencies, from the lock file; then the built packages in place of the sources.
FROM node:24-bookworm-slim AS modules
WORKDIR /app
COPY package.json package-lock.json docker/workspaces.mjs ./
COPY packages/notebook/package.json ./packages/notebook/
COPY packages/run-contract/package.json ./packages/run-contract/
COPY packages/sources/package.json ./packages/sources/
COPY packages/stores/package.json ./packages/stores/
COPY services/runner/package.json ./services/runner/
# `npm install`, not `npm ci`: the lock file lacks other platforms' optional binaries (see
# scripts/setup.sh), which `npm ci` rejects. The lock file still pins every version.
RUN node workspaces.mjs packages/notebook packages/run-contract packages/sources packages/stores \
      services/runner \
 && rm workspaces.mjs \
 && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
COPY --from=build /src/out/packages/notebook ./packages/notebook
COPY --from=build /src/out/packages/run-contract ./packages/run-contract
COPY --from=build /src/out/packages/sources ./packages/sources
COPY --from=build /src/out/packages/stores ./packages/stores
COPY --from=build /src/out/packages/runner ./services/runner

FROM node:24-bookworm-slim
# Python for the kernels (the venv is copied in; it needs the same interpreter, not venv or pip),
# CA certificates for notebooks that call HTTPS from Python.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=python /opt/nes/py /opt/nes/py
WORKDIR /app
COPY --from=modules /app ./
RUN ln -s /app/services/runner/bin/nes-run.js /usr/local/bin/nes-run \
 && mkdir -p /etc/jupyter && cp services/runner/python/jupyter_server_config.py /etc/jupyter/ \
 && useradd --uid 10001 --user-group --create-home --home-dir /home/nes nes
# Read-only root in the Job: HOME and /tmp are emptyDir volumes mounted by the Job builder.
ENV NODE_ENV=production HOME=/home/nes TMPDIR=/tmp VIRTUAL_ENV=/opt/nes/py \
    NES_JUPYTER_BIN=/opt/nes/py/bin PATH=/opt/nes/py/bin:$PATH
USER 10001:10001
ENTRYPOINT ["nes-run"]
