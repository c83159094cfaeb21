# The NES API, which also serves the built viewer and the output origin. Build from the
# repository root (the context is the allow-list in .dockerignore):
#   docker build -f docker/api.Dockerfile -t nes-api:dev .
# Two stages: the viewer is built with its development dependencies (vite, React's types), and
# the runtime stage gets only the API's runtime dependencies plus the viewer's static files.

# Each stage installs from the package manifests alone, then copies the sources: a change to the
# sources reuses the cached install layer.
FROM node:24-bookworm-slim AS viewer
WORKDIR /src
COPY package.json package-lock.json docker/workspaces.mjs ./
COPY packages/client/package.json ./packages/client/
COPY packages/notebook/package.json ./packages/notebook/
COPY packages/run-contract/package.json ./packages/run-contract/
COPY apps/viewer/package.json ./apps/viewer/
RUN node workspaces.mjs packages/client packages/notebook packages/run-contract apps/viewer \
 && npm install --ignore-scripts --no-audit --no-fund --loglevel=error
COPY packages/client ./packages/client
COPY packages/notebook ./packages/notebook
COPY packages/run-contract ./packages/run-contract
COPY apps/viewer ./apps/viewer
RUN npm run build -w @nes/viewer

FROM node:24-bookworm-slim AS modules
WORKDIR /app
COPY package.json package-lock.json docker/workspaces.mjs ./
COPY packages/cli/package.json ./packages/cli/
COPY packages/client/package.json ./packages/client/
COPY packages/notebook/package.json ./packages/notebook/
COPY packages/run-contract/package.json ./packages/run-contract/
COPY packages/sources/package.json ./packages/sources/
COPY packages/stores/package.json ./packages/stores/
COPY services/nes-api/package.json ./services/nes-api/
COPY services/runner/package.json ./services/runner/
# `npm install`, not `npm ci`: the lock file lacks other platforms' optional binaries (see
# scripts/setup.sh), which `npm ci` rejects. The lock file still pins every version.
RUN node workspaces.mjs packages/cli packages/client packages/notebook packages/run-contract \
      packages/sources packages/stores services/nes-api services/runner \
 && rm workspaces.mjs \
 && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
COPY packages ./packages
COPY services/nes-api ./services/nes-api
COPY services/runner ./services/runner

FROM node:24-bookworm-slim
ENV NODE_ENV=production NES_PORT=8080 NES_OUTPUT_PORT=8081 NES_HOST=0.0.0.0 \
    NES_DATA_DIR=/var/lib/nes HOME=/home/nes
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/nes nes \
 && install -d -o 10001 -g 10001 /var/lib/nes
WORKDIR /app
COPY --from=modules /app ./
# The API finds the viewer at apps/viewer/dist when the viewer's package is not installed.
COPY --from=viewer /src/apps/viewer/dist ./apps/viewer/dist
# The data dir (the embedded database when NES_DATABASE_URL is unset, the default store, work
# files) must be writable on a read-only root: Docker gives it a volume; the Deployment mounts one.
VOLUME /var/lib/nes
USER 10001:10001
# 8080: the API and the viewer; 8081: the output origin (untrusted notebook output, its own origin).
EXPOSE 8080 8081
CMD ["node", "packages/cli/bin/nes.ts", "serve"]
