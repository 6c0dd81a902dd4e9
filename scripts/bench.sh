#!/usr/bin/env bash
# The benchmark (`deno task bench` or `bash scripts/bench.sh [options]`; `--help` lists the options).
# Installs what it needs first (the test setup plus pydeephaven-ticking), then runs bench/run.ts, which
# starts its own server and writes bench/results/<timestamp>.{md,json}, latest.{md,json} and README.md's
# "## Benchmarks" section.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh deno java venv deno_install bench >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh
exec deno run -A bench/run.ts "$@"
