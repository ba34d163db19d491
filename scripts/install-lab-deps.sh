#!/usr/bin/env bash
# Install what the Asterisk lab needs on Debian 12 (bookworm), as root, non-interactively.
#
#   asterisk 16.28 (+ modules, config, English core sounds)  <- from the bullseye suite
#   sip-tester (sipp), tshark, openssl, iproute2, procps     <- from bookworm
#   libbcg729-0, libgsm1 (codec libraries for the media layer) <- bookworm, best effort
#   chromium (headless, for the HTML ladder test in tests/pcap)  <- bookworm
#
# Debian 12 ships no asterisk package; bullseye's 16.28 installs on bookworm provided the
# few libraries bookworm lacks (libssl1.1, libldap-2.4-2, ...) come from bullseye too. A
# bullseye source is added that reuses the mirror URI already configured on this machine
# (read at run time from /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list), and
# apt preferences pin it so ONLY the packages listed in BULLSEYE_PACKAGES can come from it:
# everything else from bullseye gets priority -1 (never installed).
#
# Idempotent: re-running re-writes the same files and installs nothing new. Used by
# `make lab-deps`, by CI and by docker/Dockerfile. The Debian package's own asterisk
# service is kept from starting (policy-rc.d during the install) and disabled afterwards:
# the lab runs its own Asterisk from a run directory.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "install-lab-deps: must run as root (try: sudo bash $0)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
log() { echo "install-lab-deps: $*"; }

# Packages allowed from bullseye: asterisk itself and what it strictly needs that bookworm
# lacks, found with `apt-get install -s --no-install-recommends` on a clean bookworm: only
# asterisk, asterisk-modules, asterisk-config, libssl1.1 and libldap-2.4-2 are pulled from
# bullseye (asterisk-core-sounds-en is in bookworm). Globs are apt pin globs.
BULLSEYE_PACKAGES="asterisk asterisk-modules asterisk-config asterisk-dev asterisk-doc libssl1.1 libldap-2.4-2"

SOURCES_FILE=/etc/apt/sources.list.d/sipclient-bullseye.list
PREFS_FILE=/etc/apt/preferences.d/sipclient-bullseye
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# --- 1. find the configured Debian mirror URIs ----------------------------------------------
# Prints "main-uri security-uri" (security may be empty). deb822 first, then classic lists.
find_uris() {
  python3 - <<'PY' 2>/dev/null || awk_fallback
import glob, re
main = sec = ""
def consider(uri, suites):
    global main, sec
    for s in suites:
        if s.endswith("-security") and not sec:
            sec = uri
        elif re.fullmatch(r"bookworm|stable|bookworm-updates", s) and not main:
            main = uri
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    if "sipclient" in path:
        continue
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, val = line.partition(":")
            key = key.strip().lower(); fields[key] = val.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        for uri in fields.get("uris", "").split():
            consider(uri, fields.get("suites", "").split())
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    if "sipclient" in path:
        continue
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        line = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb":
            consider(line[1], [line[2]])
print(main, sec)
PY
}
awk_fallback() {
  # No python3: classic one-line sources only.
  awk '$1=="deb" && $3 ~ /^(bookworm|stable)$/ {print $2; exit}' /etc/apt/sources.list \
    /etc/apt/sources.list.d/*.list 2>/dev/null || true
}

read -r MAIN_URI SEC_URI <<<"$(find_uris)" || true
if [ -z "${MAIN_URI:-}" ]; then
  echo "install-lab-deps: no bookworm source found in /etc/apt/sources.list(.d)" >&2
  exit 1
fi
log "mirror: $MAIN_URI${SEC_URI:+ (security: $SEC_URI)}"

# --- 2. bullseye source + pinning -----------------------------------------------------------
signed=""
[ -f "$KEYRING" ] && signed="[signed-by=$KEYRING] "
{
  echo "# Added by sipclient scripts/install-lab-deps.sh: Asterisk 16 for the lab (pinned)."
  echo "deb ${signed}${MAIN_URI} bullseye main"
  if [ -n "${SEC_URI:-}" ]; then
    echo "deb ${signed}${SEC_URI} bullseye-security main"
  fi
} >"$SOURCES_FILE.new"
{
  echo "# Added by sipclient scripts/install-lab-deps.sh."
  echo "# Only the lab's Asterisk and what it strictly needs may come from bullseye."
  echo "Package: $BULLSEYE_PACKAGES"
  echo "Pin: release n=bullseye"
  echo "Pin-Priority: 500"
  echo
  echo "Package: $BULLSEYE_PACKAGES"
  echo "Pin: release n=bullseye-security"
  echo "Pin-Priority: 500"
  echo
  echo "Package: *"
  echo "Pin: release n=bullseye"
  echo "Pin-Priority: -1"
  echo
  echo "Package: *"
  echo "Pin: release n=bullseye-security"
  echo "Pin-Priority: -1"
} >"$PREFS_FILE.new"
changed=0
for f in "$SOURCES_FILE" "$PREFS_FILE"; do
  if ! cmp -s "$f.new" "$f" 2>/dev/null; then mv "$f.new" "$f"; changed=1; else rm -f "$f.new"; fi
done

# --- 3. install ------------------------------------------------------------------------------
PACKAGES="asterisk asterisk-modules asterisk-config asterisk-core-sounds-en sip-tester tshark openssl iproute2 procps chromium"
OPTIONAL="libbcg729-0 libgsm1"

need_install=0
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_install=1
done
for p in $OPTIONAL; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_install=1
done

if [ "$need_install" = 1 ] || [ "$changed" = 1 ]; then
  log "apt-get update"
  apt-get update -qq
fi

if [ "$need_install" = 1 ]; then
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  # Keep maintainer scripts from starting the packaged asterisk service.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  log "installing: $PACKAGES"
  apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $PACKAGES
  for p in $OPTIONAL; do
    if apt-get install -y -q --no-install-recommends "$p" >/dev/null 2>&1; then
      log "installed optional $p"
    else
      log "optional $p not available (skipped)"
    fi
  done
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  created_policy=0
else
  log "all packages already installed"
fi

# --- 4. the packaged service must not run ------------------------------------------------------
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl disable --now asterisk.service >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/asterisk ]; then
  update-rc.d asterisk disable >/dev/null 2>&1 || true
fi
if [ -f /var/run/asterisk/asterisk.pid ] || [ -f /run/asterisk/asterisk.pid ]; then
  pid=$(cat /run/asterisk/asterisk.pid 2>/dev/null || cat /var/run/asterisk/asterisk.pid)
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q asterisk; then
    log "stopping the packaged asterisk service (pid $pid)"
    asterisk -rx "core stop now" >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  fi
fi

# --- 5. report ----------------------------------------------------------------------------------
log "asterisk: $(asterisk -V 2>/dev/null || echo missing)"
log "sipp: $( (sipp -v 2>&1 || true) | grep -o 'SIPp v[^ ,]*' | head -1)"
log "tshark: $( (tshark --version 2>/dev/null || true) | head -1)"
# Installed versions that only a bullseye source provides (apt-cache policy, one call).
from_bullseye=$(apt-cache policy $(dpkg-query -W -f='${Package} ') 2>/dev/null | awk '
  function flush() { if (cur && bull && !book) print pkg; cur = 0; bull = 0; book = 0 }
  /^[^ ]/ { flush(); pkg = $1; sub(":$", "", pkg); next }
  /^ \*\*\* / { flush(); cur = 1; next }
  /^     [^ ]/ { flush(); next }
  cur && /bullseye/ { bull = 1 }
  cur && /bookworm/ { book = 1 }
  END { flush() }' | sort -u)
allowed=" $BULLSEYE_PACKAGES "
ours="" others=""
for p in $from_bullseye; do
  case "$allowed" in *" $p "*) ours="$ours $p" ;; *) others="$others $p" ;; esac
done
log "installed from bullseye:${ours:- none}"
if [ -n "$others" ]; then
  log "note: installed versions also only in bullseye (not in the pin list, so not installed by this script: the same version was once in bookworm too):$others"
fi
log "done in $(( $(date +%s) - start )) s"

# --- 6. interop peers (issue #13): Kamailio, baresip; node + npm for the browser peers ------
INTEROP_PACKAGES="kamailio baresip nodejs npm"
missing=""
for p in $INTEROP_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "installing interop peers:$missing"
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; rm_policy=1; }
  apt-get install -y -q --no-install-recommends $missing
  [ "${rm_policy:-0}" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl disable --now kamailio.service >/dev/null 2>&1 || true
fi
log "kamailio: $( (kamailio -v 2>/dev/null || echo missing) | head -1)"
log "baresip: $(dpkg-query -W -f='${Version}' baresip 2>/dev/null || echo missing)"
