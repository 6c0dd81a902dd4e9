# shellcheck shell=bash
# Environment for the project's scripts; source it after scripts/setup.sh has run:
#   source scripts/env.sh
export DH_DENO_CACHE="${DH_DENO_CACHE:-$HOME/.cache/dh-deno}"
case ":$PATH:" in
  *":$DH_DENO_CACHE/bin:"*) ;;
  *) export PATH="$DH_DENO_CACHE/bin:$PATH" ;;
esac
if [[ -z "${JAVA_HOME:-}" ]] && command -v java >/dev/null 2>&1; then
  JAVA_HOME="$(readlink -f "$(command -v java)")"
  export JAVA_HOME="${JAVA_HOME%/bin/java}"
fi
export DENO_TLS_CA_STORE=system
export NO_COLOR=1
export RUST_BACKTRACE=0
export DH_PYTHON="$DH_DENO_CACHE/venv-42.7/bin/python"
# The project's Jupyter data dir (kernels/deno, written by scripts/setup.sh) comes first on JUPYTER_PATH.
case ":${JUPYTER_PATH:-}:" in
  *":$DH_DENO_CACHE/jupyter:"*) ;;
  *) export JUPYTER_PATH="$DH_DENO_CACHE/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}" ;;
esac
