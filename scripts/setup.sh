#!/usr/bin/env bash
# Prepare this machine for the project: Deno 2.9.3, a Java 17+ JDK, the Python venv with the
# Deephaven server and client, the npm dependencies from deno.json, and what the notebook tests need:
# Jupyter (JupyterLab, nbclient) in the same venv, the project's Deno kernelspec, Debian's chromium
# and playwright-core.
#
# Idempotent: every step checks first and returns at once when nothing is to be done, so a
# second run takes about a second. Cache dir: ${DH_DENO_CACHE:-$HOME/.cache/dh-deno}.
# To add a step, write a `step_<name>` function and list it in STEPS below.
# Usage: scripts/setup.sh [step ...]   (default: all steps, in order)
# Steps outside the default list, run only when named: `bench` (what `deno task bench` needs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DH_DENO_CACHE:-$HOME/.cache/dh-deno}"
DENO_VERSION="2.9.3"
DH_VERSION="42.7"
VENV="$CACHE/venv-$DH_VERSION"
BIN="$CACHE/bin"    # holds a `deno` symlink to the chosen binary; env.sh puts it first on PATH
# Jupyter data dir of the project, put first on JUPYTER_PATH by env.sh: holds kernels/deno, so the
# user's own kernels (~/.local/share/jupyter) are neither used nor touched.
JUPYTER_DIR="$CACHE/jupyter"
JUPYTER_PINS=(jupyterlab==4.6.6 nbclient==0.11.0 nbformat==5.11.1 jupyter_client==8.10.0)

export DENO_TLS_CA_STORE=system NO_COLOR=1 RUST_BACKTRACE=0

STEPS=(deno java venv deno_install jupyter deno_kernel chromium playwright)
EXTRA_STEPS=(bench)

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# (a) Deno, pinned: 2.9.4-2.9.6 abort when an HTTP/2 GOAWAY arrives on a gRPC connection.
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

# (e) Jupyter for the notebook tests, in the Deephaven venv (the pins do not conflict with
# deephaven-server/pydeephaven 42.7: pip only adds packages). JupyterLab also brings ipykernel.
jupyter_ok() {
  [[ -x "$VENV/bin/jupyter-lab" ]] && "$VENV/bin/python" - "${JUPYTER_PINS[@]}" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    assert version(name) == want, pin
import jupyter_client, jupyterlab, nbclient, nbformat  # noqa: F401
PY
}
step_jupyter() {
  [[ -x "$VENV/bin/python" ]] || die "the venv $VENV is missing; run scripts/setup.sh venv first"
  if jupyter_ok; then
    log "jupyter ok (${JUPYTER_PINS[*]})"
    return
  fi
  log "installing ${JUPYTER_PINS[*]} into $VENV (takes a minute)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${JUPYTER_PINS[@]}" >&2 ||
    die "pip could not install ${JUPYTER_PINS[*]}; check the network access to PyPI"
  jupyter_ok || die "the venv at $VENV does not import ${JUPYTER_PINS[*]} after install"
  venv_ok || die "installing Jupyter broke deephaven-server/pydeephaven $DH_VERSION in $VENV; delete $VENV and rerun"
  log "jupyter ok (${JUPYTER_PINS[*]})"
}

# (f) The Deno kernelspec `deno` in $JUPYTER_DIR/kernels/deno, running the pinned deno ($BIN/deno)
# with the environment the kernel needs. `deno jupyter --install` ignores JUPYTER_DATA_DIR but writes
# to $XDG_DATA_HOME/jupyter, so XDG_DATA_HOME=$CACHE puts it here.
KERNEL_JSON="$JUPYTER_DIR/kernels/deno/kernel.json"
kernel_ok() {
  [[ -f "$KERNEL_JSON" ]] && deno_is_wanted "$BIN/deno" &&
    "$VENV/bin/python" - "$KERNEL_JSON" "$BIN/deno" <<'PY' >/dev/null 2>&1
import json, sys
with open(sys.argv[1]) as f:
    spec = json.load(f)
assert spec["argv"] == [sys.argv[2], "jupyter", "--kernel", "--conn", "{connection_file}"]
assert spec["env"]["DENO_TLS_CA_STORE"] == "system" and spec["env"]["NO_COLOR"] == "1"
assert spec["language"] == "typescript"
PY
}
step_deno_kernel() {
  [[ -x "$VENV/bin/python" ]] || die "the venv $VENV is missing; run scripts/setup.sh venv first"
  deno_is_wanted "$BIN/deno" || die "$BIN/deno is not deno $DENO_VERSION; run scripts/setup.sh deno first"
  if kernel_ok; then
    log "deno kernelspec ok ($KERNEL_JSON)"
    return
  fi
  log "installing the deno kernelspec into $JUPYTER_DIR/kernels/deno"
  XDG_DATA_HOME="$CACHE" "$BIN/deno" jupyter --install --force --name deno --display "Deno" >/dev/null 2>&1 ||
    die "'deno jupyter --install --force' failed; run it by hand to see why"
  [[ -f "$KERNEL_JSON" ]] || die "deno jupyter --install did not write $KERNEL_JSON"
  # Pin the binary (the one deno wrote may be any deno on PATH) and the kernel's environment.
  "$VENV/bin/python" - "$KERNEL_JSON" "$BIN/deno" <<'PY' || die "could not update $KERNEL_JSON"
import json, sys
path, deno = sys.argv[1], sys.argv[2]
with open(path) as f:
    spec = json.load(f)
spec["argv"] = [deno, "jupyter", "--kernel", "--conn", "{connection_file}"]
spec["display_name"] = "Deno"
spec["language"] = "typescript"
spec["env"] = {"DENO_TLS_CA_STORE": "system", "NO_COLOR": "1", "RUST_BACKTRACE": "0"}
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
PY
  kernel_ok || die "the kernelspec at $KERNEL_JSON is not as expected after install"
  log "deno kernelspec ok ($KERNEL_JSON)"
}

# (g) Debian's chromium, driven headless by the JupyterLab test through playwright-core.
CHROMIUM=/usr/bin/chromium
step_chromium() {
  if [[ -x "$CHROMIUM" ]] && "$CHROMIUM" --version >/dev/null 2>&1; then
    log "chromium ok ($("$CHROMIUM" --version 2>/dev/null | head -1))"
    return
  fi
  if ((EUID != 0)) || ! command -v apt-get >/dev/null; then
    log "chromium is missing and cannot be installed here (needs root and apt-get): the JupyterLab browser" \
      "test will be skipped; install it with 'sudo apt-get install -y chromium'"
    return
  fi
  local apt_log="$CACHE/apt-chromium.log"
  log "installing chromium with apt-get (about a minute; output in $apt_log)"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; } \
    >"$apt_log" 2>&1; then
    tail -20 "$apt_log" >&2
    die "apt-get could not install chromium (see $apt_log); check the network access to Debian's mirrors"
  fi
  "$CHROMIUM" --version >/dev/null 2>&1 || die "$CHROMIUM does not run after install"
  log "chromium ok ($("$CHROMIUM" --version 2>/dev/null | head -1))"
}

# (h) playwright-core, pinned in deno.json's imports and fetched by `deno install` (step deno_install).
playwright_version() {
  sed -nE 's/.*"playwright-core": *"npm:playwright-core@([0-9][^"]*)".*/\1/p' "$ROOT/deno.json" | head -1
}
playwright_installed() {
  # Deno loads npm: packages from node_modules/.deno/<name>@<version>/ (not from the top-level link).
  local want="$1" pkg="$ROOT/node_modules/.deno/playwright-core@$1/node_modules/playwright-core/package.json"
  [[ -f "$pkg" ]] && grep -qE "\"version\": *\"$want\"" "$pkg"
}
step_playwright() {
  local want
  want="$(playwright_version)"
  [[ -n "$want" ]] || die "deno.json has no \"playwright-core\" entry in its imports; add \"npm:playwright-core@<version>\""
  if ! playwright_installed "$want"; then
    log "deno install (playwright-core $want)"
    (cd "$ROOT" && "$BIN/deno" install >&2) || die "deno install failed; check the network access to the npm registry"
    playwright_installed "$want" || die "deno install did not install playwright-core $want into node_modules/.deno"
  fi
  log "playwright-core $want ok"
}

# (i) Only for the benchmark (not in STEPS): pydeephaven-ticking, the C++ Barrage peer, in the same venv.
ticking_ok() {
  [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" - "$DH_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
assert version("pydeephaven-ticking") == sys.argv[1]
import pydeephaven_ticking.table_listener  # noqa: F401
PY
}
step_bench() {
  [[ -x "$VENV/bin/python" ]] || die "the venv $VENV is missing; run scripts/setup.sh venv first"
  if ticking_ok; then
    log "pydeephaven-ticking $DH_VERSION ok"
    return
  fi
  log "installing pydeephaven-ticking==$DH_VERSION into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pydeephaven-ticking==$DH_VERSION" >&2 ||
    die "pip could not install pydeephaven-ticking==$DH_VERSION; check the network access to PyPI"
  ticking_ok || die "the venv at $VENV does not import pydeephaven_ticking $DH_VERSION after install"
  venv_ok || die "installing pydeephaven-ticking broke deephaven-server/pydeephaven $DH_VERSION in $VENV"
  log "pydeephaven-ticking $DH_VERSION ok"
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
    declare -F "step_$step" >/dev/null || die "unknown step '$step'; known steps: ${STEPS[*]} ${EXTRA_STEPS[*]}"
    "step_$step"
  done
}

main "$@"
