#!/usr/bin/env bash
# The demo: installs what is missing, then runs the seed scenario against an embedded server.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh
exec deno run -A scripts/demo.ts "$@"
