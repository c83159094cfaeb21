# The NES API (serves the viewer too). Build from the repository root:
#   docker build -f docker/api.Dockerfile -t nes-api .
FROM node:24-bookworm-slim
ENV NODE_ENV=production NES_PORT=8080 NES_OUTPUT_PORT=8081 NES_HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY services ./services
COPY apps ./apps
COPY test/package.json ./test/package.json
# `npm install`, not `npm ci`: the lock file lacks other platforms' optional binaries (see
# scripts/setup.sh), which `npm ci` rejects. The lock file still pins every version.
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
RUN useradd --uid 10001 --create-home --home-dir /home/nes nes
USER 10001:10001
# 8080: the API and the viewer; 8081: the output origin (untrusted notebook output, its own origin).
EXPOSE 8080 8081
CMD ["node", "packages/cli/bin/nes.ts", "serve"]
