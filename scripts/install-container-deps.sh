#!/usr/bin/env bash
# Install and (only where its defaults fail here) configure podman for the containerised lab,
# on Debian 12 as root, non-interactively. Used by `make container-deps` (and so `make test`).
#
#   podman, runc, debootstrap                                               <- bookworm
#   (podman-compose comes from PyPI with the venv's dev extra: Debian's 1.0.3 adds
#   --network-alias to network_mode: host, which podman refuses)
#
# Configuration: ONE drop-in file, /etc/containers/containers.conf.d/50-sipclient.conf,
# written only when a check below says podman's default does not work on this machine:
#
#   - cgroups v1 or hybrid (/sys/fs/cgroup is not cgroup2): Debian's default runtime crun
#     fails ("cgroups in hybrid mode not supported")  -> runtime = "runc"
#   - systemd is not PID 1 (/run/systemd/system missing): the systemd cgroup manager has
#     nobody to talk to                                 -> cgroup_manager = "cgroupfs"
#   - the hard RLIMIT_NOFILE (RLIMIT_NPROC, or kernel.pid_max if lower) is below podman's
#     default for root, 1048576 (4194304): every container start is refused ("error
#     setting rlimit type 7 (6)")       -> default_ulimits = ["nofile=N:N", "nproc=M:M"]
#
# On a machine where all defaults work the file is not written. Idempotent; reversible:
#
#   bash scripts/install-container-deps.sh --undo   # removes the drop-in (not the packages)
#
# The debian:12 base image is made by scripts/make-base-image.sh when no registry answers.
set -euo pipefail

DROPIN_DIR=/etc/containers/containers.conf.d
DROPIN=$DROPIN_DIR/50-sipclient.conf
PACKAGES="podman runc debootstrap"

log() { echo "install-container-deps: $*"; }

if [ "$(id -u)" != 0 ]; then
  echo "install-container-deps: must run as root (try: sudo bash $0)" >&2
  exit 1
fi

if [ "${1:-}" = "--undo" ]; then
  if [ -f "$DROPIN" ]; then
    rm -f "$DROPIN"
    log "removed $DROPIN (podman back to its defaults)"
  else
    log "nothing to undo ($DROPIN absent)"
  fi
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)

# --- 1. packages ------------------------------------------------------------------------------
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "installing:$missing"
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  # shellcheck disable=SC2086  # a word list on purpose
  apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing
else
  log "packages present: $(podman --version)"
fi

# --- 2. configuration, only where the defaults fail --------------------------------------------
settings=()
why=()
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != "cgroup2fs" ]; then
  settings+=('runtime = "runc"')
  why+=("cgroups v1/hybrid: crun cannot run containers here")
fi
if [ ! -d /run/systemd/system ]; then
  settings+=('cgroup_manager = "cgroupfs"')
  why+=("systemd is not PID 1: no systemd cgroup manager")
fi
ulimits=()
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 1048576 ]; then
  ulimits+=("\"nofile=$hard:$hard\"")
  why+=("hard RLIMIT_NOFILE is $hard, below podman's default 1048576")
fi
# nproc: the hard limit, but no more than kernel.pid_max (runc is refused above it here)
hard=$(ulimit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 4194304)
[ "$hard" = unlimited ] && hard=4194304
[ "$pid_max" -lt "$hard" ] && hard=$pid_max
if [ "$hard" -lt 4194304 ]; then
  ulimits+=("\"nproc=$hard:$hard\"")
  why+=("hard RLIMIT_NPROC or kernel.pid_max is $hard, below podman's default 4194304")
fi
if [ "${#ulimits[@]}" -gt 0 ]; then
  settings+=("default_ulimits = [$(IFS=,; echo "${ulimits[*]}" | sed 's/,/, /g')]")
fi

if [ "${#settings[@]}" -eq 0 ]; then
  if [ -f "$DROPIN" ]; then rm -f "$DROPIN"; log "defaults work here: removed $DROPIN"; fi
  log "podman defaults work here: no configuration written"
else
  mkdir -p "$DROPIN_DIR"
  {
    echo "# Written by sipclient scripts/install-container-deps.sh, because on this machine:"
    for w in "${why[@]}"; do echo "#   - $w"; done
    echo "# Remove with: bash scripts/install-container-deps.sh --undo"
    echo "[containers]"
    for s in "${settings[@]}"; do
      case "$s" in default_ulimits*) echo "$s" ;; esac
    done
    echo
    echo "[engine]"
    for s in "${settings[@]}"; do
      case "$s" in default_ulimits*) ;; *) echo "$s" ;; esac
    done
  } >"$DROPIN.new"
  if cmp -s "$DROPIN.new" "$DROPIN" 2>/dev/null; then
    rm -f "$DROPIN.new"
    log "configuration unchanged: $DROPIN"
  else
    mv "$DROPIN.new" "$DROPIN"
    log "wrote $DROPIN:"
    sed 's/^/    /' "$DROPIN"
  fi
fi

# --- 3. report ----------------------------------------------------------------------------------
log "$(podman --version), runtime $(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null || echo '?'), cgroup manager $(podman info --format '{{.Host.CgroupManager}}' 2>/dev/null || echo '?')"
log "done in $(( $(date +%s) - start )) s"
