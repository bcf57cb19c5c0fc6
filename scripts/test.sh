#!/usr/bin/env bash
# Runs every check and test of Casebook, as CI does (`.ci/run` calls this):
#   setup → UI build → rustfmt → clippy → TypeScript bindings drift → UI checks, lint, unit tests →
#   Rust tests (library crates, integration tests, shell) → real-webview tests under Xvfb.
# Every step prints its duration; a failed check does not stop the later ones (a failed setup or
# build does); the script exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
if [ -n "${CI:-}" ]; then
  # Cold builds: incremental compilation only costs time and disk.
  export CARGO_INCREMENTAL=0
fi
# The e2e tests fail (instead of skipping) when tauri-driver, WebKitWebDriver or a display is missing.
export CASEBOOK_E2E_REQUIRED=1

STARTED=$SECONDS
failed=()
timings=()

# step <name> <command...>: runs the command, prints its duration, records a failure.
step() {
  local name=$1
  shift
  printf '\n=== %s\n' "$name"
  local t0=$SECONDS
  "$@"
  local rc=$?
  local took=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then
    printf '\n=== %s: ok in %ss\n' "$name" "$took"
    timings+=("$(printf '%-34s ok     %5ss' "$name" "$took")")
  else
    printf '\n=== %s: FAILED (exit %s) in %ss\n' "$name" "$rc" "$took"
    timings+=("$(printf '%-34s FAILED %5ss' "$name" "$took")")
    failed+=("$name")
  fi
  return $rc
}

# Free disk, printed at the start and in the summary: a cold build needs several GB, and a full
# disk shows up as an obscure compiler I/O error in the middle of a step.
disk() { df -h --output=avail,size,target "$ROOT" | tail -n 1 | awk '{print "disk: " $1 " free of " $2 " on " $3}'; }

summary() {
  printf '\n=== summary (total %ss)\n' "$((SECONDS - STARTED))"
  disk
  [ -d target ] && du -sh target | awk '{print "target/: " $1}'
  printf '%s\n' "${timings[@]}"
  if [ ${#failed[@]} -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[*]}"
    exit 1
  fi
  echo "all checks passed"
}

# A step that later steps depend on: stop here when it fails.
required() { step "$@" || summary; }

bindings_unchanged() {
  # The ts-rs export tests (unit tests of the façade and core crates) rewrite ui/src/bindings;
  # the committed files must match. Same package selection as the test step, so the test
  # binaries built here are reused there.
  cargo test --workspace --exclude casebook-e2e --lib --locked export_bindings -- --quiet || return 1
  local untracked
  untracked=$(git ls-files --others --exclude-standard -- ui/src/bindings)
  if [ -n "$untracked" ]; then
    printf 'generated bindings not committed:\n%s\n' "$untracked"
    return 1
  fi
  git diff --exit-code --stat -- ui/src/bindings || {
    echo "ui/src/bindings differs from what the Rust DTOs generate: run 'cargo test -p casebook-api' and commit"
    return 1
  }
}

rust_tests() {
  # Inside a private session bus with an unlocked Secret Service and a keyutils session, so
  # keyring tests exercise the real stores; all their state lives under target/.
  dbus-run-session -- sh -ec '
    export XDG_DATA_HOME="$1/target/ci-keyring/data" XDG_RUNTIME_DIR="$1/target/ci-keyring/run"
    rm -rf "$1/target/ci-keyring"
    mkdir -p -m 700 "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
    printf %s ci-pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    CASEBOOK_KEYRING_IT=1 keyctl session - cargo nextest run --workspace --exclude casebook-e2e --locked
  ' sh "$ROOT"
}

e2e_tests() {
  # Compile outside the virtual display, then drive the real app.
  cargo nextest run -p casebook-e2e --locked --no-run || return 1
  # The app keeps the workspace's database key in the OS keyring: give the session an unlocked
  # Secret Service (scratch state under target/, as for the Rust tests).
  # The sync tests prepare their workspace with the casebook CLI, built by the Rust test step.
  CASEBOOK_APP="$ROOT/target/debug/casebook-app" CASEBOOK_CLI="$ROOT/target/debug/casebook" \
    xvfb-run -a -s "-screen 0 1280x800x24" \
    dbus-run-session -- sh -ec '
      export XDG_DATA_HOME="$1/target/e2e-keyring/data" XDG_RUNTIME_DIR="$1/target/e2e-keyring/run"
      rm -rf "$1/target/e2e-keyring"
      mkdir -p -m 700 "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
      printf %s e2e-pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null
      # The start-up benchmark first and alone (no other app competing for the cores), then the rest.
      rc=0
      cargo nextest run -p casebook-e2e --locked --no-capture -E "binary(startup)" || rc=1
      cargo nextest run -p casebook-e2e --locked --no-capture -E "not binary(startup)" || rc=1
      exit $rc
    ' sh "$ROOT"
}

disk
avail_kb=$(df --output=avail -k "$ROOT" | tail -n 1 | tr -d ' ')
if [ "${avail_kb:-0}" -lt $((12 * 1024 * 1024)) ]; then
  echo "warning: less than 12 GB free; a cold build and the tests need about 10 GB (target/ grows to that)"
fi
required "setup" bash scripts/setup.sh
# The shell embeds ui/dist at compile time: build the UI before anything compiles the shell.
required "ui: build" npm --prefix ui run build
step "rust: fmt" cargo fmt --all --check
step "rust: clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
step "bindings: drift" bindings_unchanged
step "ui: check (svelte-check, tsc)" npm --prefix ui run check
step "ui: lint (eslint, prettier)" npm --prefix ui run lint
step "ui: unit tests (vitest)" npm --prefix ui test
step "rust: tests (nextest)" rust_tests
required "app: build" cargo build -p casebook-app --locked
step "e2e: real webview (Xvfb)" e2e_tests
summary
