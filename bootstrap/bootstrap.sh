#!/usr/bin/env bash
# Installs everything the suite needs on the machine that runs it, from the repo's own files:
#   - the Debian packages in bootstrap/host-packages.txt (apt-get, only what is missing);
#   - a virtualenv in .venv with the pinned requirements.txt, every dependency held at the
#     version constraints.txt names (re-built only when either file changes).
# Idempotent: a second run installs nothing and says so.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: must run as root (it installs Debian packages and later builds network bridges); re-run with sudo" >&2
    exit 1
fi
if ! grep -q '^ID=debian' /etc/os-release 2>/dev/null; then
    echo "bootstrap: this host is not Debian; see README 'Requirements'" >&2
    exit 1
fi

mapfile -t pkgs < <(grep -vE '^\s*(#|$)' bootstrap/host-packages.txt)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "bootstrap: Debian packages already present (${#pkgs[@]})"
fi

PY=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/ansible-playbook ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "bootstrap: building .venv from requirements.txt under constraints.txt"
    "$PY" -m venv .venv
    .venv/bin/pip install -q --upgrade pip -c constraints.txt
    .venv/bin/pip install -q -r requirements.txt -c constraints.txt
    echo "$want" > "$stamp"
else
    echo "bootstrap: .venv up to date"
fi

# Optional run history (make ... ARA=1): ara into the same venv, once.
if [ "${ARA:-0}" = "1" ] && [ ! -x .venv/bin/ara-manage ]; then
    echo "bootstrap: installing ARA (requirements-ara.txt) for the run history"
    .venv/bin/pip install -q -r requirements-ara.txt -c constraints.txt
fi
