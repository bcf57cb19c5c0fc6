#!/usr/bin/env bash
# Starts Casebook from a checkout: installs what is missing, builds the UI and runs the desktop app
# on the local workspace (the platform data directory, or $CASEBOOK_HOME when set).
#   bash scripts/start.sh                       # your workspace
#   CASEBOOK_HOME=/tmp/cb bash scripts/start.sh # a scratch workspace
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  cat >&2 <<'MSG'
[start] no display: neither $DISPLAY nor $WAYLAND_DISPLAY is set, so the Casebook window cannot open.
[start] Run it on a desktop session, or headless under a virtual X server:
[start]   xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash scripts/start.sh
MSG
  exit 2
fi

bash scripts/setup.sh
echo "[start] building the UI"
npm --prefix ui run build
echo "[start] building and starting Casebook (workspace: ${CASEBOOK_HOME:-default data directory})"
exec cargo run -p casebook-app
