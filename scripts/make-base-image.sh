#!/usr/bin/env bash
# Make sure the container engine has the lab image's base, docker.io/library/debian:12.
#
#   bash scripts/make-base-image.sh [podman|docker]     # default: podman if present
#
# 1. Present already: nothing to do.
# 2. Else pull it from the registry (where one is reachable).
# 3. Else build it here: `debootstrap --variant=minbase bookworm` from the Debian mirror this
#    machine is configured with (the URIs of /etc/apt/sources.list.d/debian.sources, read now;
#    never a fixed host), copy that sources file in, drop apt's lists and caches, and
#    `import` the tree under the registry's name so docker/Dockerfile builds unchanged.
#    About 45 s and 100 MB of downloads; needs root and debootstrap
#    (scripts/install-container-deps.sh installs it).
#
# Set SIPCLIENT_BASE_NO_PULL=1 to skip step 2.
set -euo pipefail

IMAGE=docker.io/library/debian:12
SOURCES=/etc/apt/sources.list.d/debian.sources
ENGINE=${1:-$(command -v podman >/dev/null && echo podman || echo docker)}
log() { echo "make-base-image: $*"; }

if "$ENGINE" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE present"
  exit 0
fi
if [ "${SIPCLIENT_BASE_NO_PULL:-}" != 1 ] && timeout 300 "$ENGINE" pull -q "$IMAGE" >/dev/null 2>&1; then
  log "pulled $IMAGE"
  exit 0
fi
log "no registry answers for $IMAGE: building it with debootstrap"

if [ "$(id -u)" != 0 ]; then
  echo "make-base-image: debootstrap needs root (try: sudo bash $0)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "make-base-image: debootstrap missing: run make container-deps" >&2; exit 1; }
[ -f "$SOURCES" ] || { echo "make-base-image: $SOURCES not found: no Debian mirror configured" >&2; exit 1; }

# The URI of the stanza whose Suites include bookworm (deb822: "Field: value" lines).
MIRROR=$(awk '
  /^[[:space:]]*$/ { if (uri != "" && book) { print uri; exit } uri = ""; book = 0; next }
  tolower($1) == "uris:" { uri = $2 }
  tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == "bookworm") book = 1 }
  END { if (uri != "" && book) print uri }' "$SOURCES" | head -1)
[ -n "$MIRROR" ] || { echo "make-base-image: no bookworm URI in $SOURCES" >&2; exit 1; }

start=$(date +%s)
ROOT=$(mktemp -d /var/tmp/sipclient-base.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
log "debootstrap --variant=minbase bookworm from $MIRROR"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || {
  tail -20 "$ROOT.log" >&2; rm -f "$ROOT.log"; exit 1; }
rm -f "$ROOT.log"
# the image gets this machine's sources (bookworm, -updates, -security), like the registry's
rm -f "$ROOT/etc/apt/sources.list"
cp "$SOURCES" "$ROOT/etc/apt/sources.list.d/debian.sources"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
  "$ROOT"/var/log/* "$ROOT"/tmp/*
tar -C "$ROOT" --numeric-owner -c . | "$ENGINE" import --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
log "imported $IMAGE in $(( $(date +%s) - start )) s ($("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE") bytes)"
