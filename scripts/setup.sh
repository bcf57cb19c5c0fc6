#!/usr/bin/env bash
# Installs what building, running and testing Casebook needs on Debian 12 / Ubuntu, and nothing
# that is already there: system packages (Tauri's WebKitGTK stack, Xvfb, WebKitWebDriver, D-Bus,
# gnome-keyring, ImageMagick, sqlite3), tauri-driver and cargo-nextest, and the UI's npm packages.
# Idempotent; prints what it does. Runs as root (CI) or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

say() { printf '[setup] %s\n' "$*"; }

APT_PACKAGES=(
  # Tauri v2 on Linux
  libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev pkg-config
  # Secret Service (keyring) client
  libdbus-1-dev
  # real-webview tests, screenshots, a headless session bus and keyring
  xvfb xauth webkit2gtk-driver dbus dbus-x11 gnome-keyring keyutils imagemagick fonts-dejavu-core
  # inspecting workspaces by hand
  sqlite3
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    say "missing system packages and no apt-get: install ${missing[*]} by hand" >&2
    exit 1
  fi
  SUDO=()
  [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
  say "installing system packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "system packages: all present"
fi

if command -v tauri-driver >/dev/null; then
  say "tauri-driver: present"
else
  say "installing tauri-driver (cargo install, about 1.5 min)"
  cargo install tauri-driver --locked
fi

if cargo nextest --version >/dev/null 2>&1; then
  say "cargo-nextest: present"
else
  say "installing cargo-nextest (cargo install, a few minutes)"
  cargo install cargo-nextest --locked
fi

say "ui: npm install"
# Not `npm ci`: the registry here only has the Linux builds of some optional packages, so the
# lockfile looks out of sync to `npm ci`.
npm --prefix ui install --no-audit --no-fund --loglevel=error
say "done"
