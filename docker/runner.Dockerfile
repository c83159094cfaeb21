# The runner image: Node 24, nes-run, and the Python kernel environment with the Jupyter Server
# tunings (services/runner/python/jupyter_server_config.py, loaded by nes-run). Build from the
# repository root:  docker build -f docker/runner.Dockerfile -t nes-runner .
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates git \
 && rm -rf /var/lib/apt/lists/*
ENV VIRTUAL_ENV=/opt/nes/py NODE_ENV=production
COPY services/runner/python/requirements.txt /opt/nes/requirements.txt
RUN python3 -m venv "$VIRTUAL_ENV" \
 && "$VIRTUAL_ENV/bin/pip" install --no-cache-dir -r /opt/nes/requirements.txt \
 && "$VIRTUAL_ENV/bin/python" -m ipykernel install --prefix "$VIRTUAL_ENV"
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY services ./services
COPY apps ./apps
COPY test/package.json ./test/package.json
# `npm install`, not `npm ci`: the lock file lacks other platforms' optional binaries (see
# scripts/setup.sh), which `npm ci` rejects. The lock file still pins every version.
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
 && ln -s /app/node_modules/.bin/nes-run /usr/local/bin/nes-run
# The tunings are also installed system-wide for any other Jupyter process in the image.
RUN mkdir -p /etc/jupyter && cp services/runner/python/jupyter_server_config.py /etc/jupyter/
RUN useradd --uid 10001 --create-home --home-dir /home/nes nes
# Read-only root in the Job: HOME and /tmp are emptyDir volumes mounted by the Job builder.
ENV HOME=/home/nes TMPDIR=/tmp NES_JUPYTER_BIN=/opt/nes/py/bin PATH=/opt/nes/py/bin:$PATH
USER 10001:10001
ENTRYPOINT ["nes-run"]
