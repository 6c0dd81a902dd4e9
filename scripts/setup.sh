#!/usr/bin/env bash
# Prepare this machine for the project: Deno 2.9.3, a Java 17+ JDK, the Python venv with the
# Deephaven server and client, and the npm dependencies from deno.json.
#
# Idempotent: every step checks first and returns at once when nothing is to be done, so a
# second run takes about a second. Cache dir: ${DH_DENO_CACHE:-$HOME/.cache/dh-deno}.
# To add a step, write a `step_<name>` function and list it in STEPS below.
# Usage: scripts/setup.sh [step ...]   (default: all steps, in order)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DH_DENO_CACHE:-$HOME/.cache/dh-deno}"
DENO_VERSION="2.9.3"
DH_VERSION="42.7"
VENV="$CACHE/venv-$DH_VERSION"
BIN="$CACHE/bin"    # holds a `deno` symlink to the chosen binary; env.sh puts it first on PATH

export DENO_TLS_CA_STORE=system NO_COLOR=1 RUST_BACKTRACE=0

STEPS=(deno java venv deno_install)

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# (a) Deno, pinned: 2.9.4-2.9.6 crash on gRPC GOAWAY (TOOLCHAIN.md §2.4).
deno_is_wanted() { [[ -x "$1" ]] && "$1" --version 2>/dev/null | head -1 | grep -q "^deno $DENO_VERSION "; }
step_deno() {
  local chosen=""
  if [[ -L "$BIN/deno" ]] && deno_is_wanted "$BIN/deno"; then
    log "deno $DENO_VERSION ok ($(readlink "$BIN/deno"))"
    return
  fi
  local on_path
  on_path="$(PATH="${PATH//$BIN:/}" command -v deno || true)"
  if [[ -n "$on_path" ]] && deno_is_wanted "$on_path"; then
    chosen="$on_path"
  else
    local dir="$CACHE/deno-$DENO_VERSION"
    if ! deno_is_wanted "$dir/node_modules/.bin/deno"; then
      command -v npm >/dev/null || die "npm is needed to install deno $DENO_VERSION; install Node.js and npm first"
      log "installing deno $DENO_VERSION with npm into $dir"
      mkdir -p "$dir"
      npm install --silent --no-audit --no-fund --prefix "$dir" "deno@$DENO_VERSION" >&2
    fi
    deno_is_wanted "$dir/node_modules/.bin/deno" ||
      die "deno $DENO_VERSION from npm does not run ($dir/node_modules/.bin/deno); delete $dir and retry"
    chosen="$dir/node_modules/.bin/deno"
  fi
  mkdir -p "$BIN"
  ln -sfn "$chosen" "$BIN/deno"
  log "deno $DENO_VERSION ok ($chosen)"
}

# (b) Java 17+ (the server uses Jetty 12; jpy loads libjvm from JAVA_HOME).
find_java_home() {
  if [[ -n "${JAVA_HOME:-}" ]]; then printf '%s\n' "$JAVA_HOME"; return; fi
  local java
  java="$(command -v java || true)"
  [[ -n "$java" ]] || return 1
  java="$(readlink -f "$java")"
  printf '%s\n' "${java%/bin/java}"
}
step_java() {
  local home major
  home="$(find_java_home)" || die "no java found: set JAVA_HOME or install a JDK 17+ (apt-get install openjdk-17-jdk-headless)"
  [[ -x "$home/bin/java" ]] || die "JAVA_HOME=$home has no bin/java: point JAVA_HOME at a JDK 17+"
  major="$("$home/bin/java" -version 2>&1 | head -1 | sed -E 's/.*version "([0-9]+)(\.[^"]*)?".*/\1/')"
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot read the Java version from $home/bin/java -version"
  ((major >= 17)) || die "Java $major found at $home, but the Deephaven server needs Java 17 or newer: set JAVA_HOME to a JDK 17+"
  [[ -f "$home/lib/server/libjvm.so" ]] || die "$home/lib/server/libjvm.so is missing: JAVA_HOME must be a full JDK/JRE 17+"
  export JAVA_HOME="$home"
  log "java $major ok ($home)"
}

# (c) The Python venv with the pinned server and client.
venv_ok() {
  [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" - "$DH_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
want = sys.argv[1]
assert version("deephaven-server") == want and version("pydeephaven") == want
import deephaven_server, pydeephaven, pyarrow  # noqa: F401
PY
}
step_venv() {
  if venv_ok; then
    log "python venv ok ($VENV)"
    return
  fi
  local py="${DH_BASE_PYTHON:-python3}"
  command -v "$py" >/dev/null || die "$py not found: install Python 3.9+ or set DH_BASE_PYTHON"
  "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' ||
    die "$py is older than 3.9; set DH_BASE_PYTHON to a Python 3.9+"
  log "creating $VENV with deephaven-server==$DH_VERSION pydeephaven==$DH_VERSION (takes a minute)"
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "deephaven-server==$DH_VERSION" "pydeephaven==$DH_VERSION" >&2
  venv_ok || die "the venv at $VENV does not import deephaven_server/pydeephaven $DH_VERSION after install"
  log "python venv ok ($VENV)"
}

# (d) npm dependencies from deno.json (node_modules/), re-run only when deno.json or deno.lock change.
project_hash() { cat "$ROOT/deno.json" "$ROOT/deno.lock" 2>/dev/null | sha256sum | cut -d' ' -f1; }
step_deno_install() {
  local stamp="$ROOT/node_modules/.dh-setup-deno-install"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$(project_hash)" ]]; then
    log "npm dependencies ok"
    return
  fi
  log "deno install"
  (cd "$ROOT" && "$BIN/deno" install >&2) || die "deno install failed; check the network access to the npm registry"
  project_hash >"$stamp"
  log "npm dependencies ok"
}

main() {
  mkdir -p "$CACHE"
  # One setup at a time: test runs started together must not build the same venv twice.
  exec 9>"$CACHE/setup.lock"
  flock 9
  local step
  local -a chosen=("${STEPS[@]}")
  (($#)) && chosen=("$@")   # `setup.sh java venv` runs only those steps
  for step in "${chosen[@]}"; do
    declare -F "step_$step" >/dev/null || die "unknown step '$step'; known steps: ${STEPS[*]}"
    "step_$step"
  done
}

main "$@"
