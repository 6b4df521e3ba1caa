#!/usr/bin/env bash
# Run a command (ansible-playbook ...) with ARA's callback recording it (make ... ARA=1):
# the callback directory is looked up now, after bootstrap installed ara into .venv.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ara_callbacks=$("$here/.venv/bin/python" -m ara.setup.callback_plugins)
export ANSIBLE_CALLBACK_PLUGINS="$here/callback_plugins:$ara_callbacks"
export ARA_API_CLIENT=offline
export ARA_BASE_DIR="${ARA_BASE_DIR:-$HOME/.cache/ostack/ara}"
exec "$@"
