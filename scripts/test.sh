#!/usr/bin/env bash
# THE test command (CI runs it through .ci/run; `deno task test` runs it too).
#
#   scripts/test.sh [deno test arguments]     default: src/ tests/
#
# Runs setup, then deno fmt --check, deno lint, deno check, deno doc --lint (when mod.ts exists) and
# deno test. Every check runs even when an earlier one fails. Ends with one plain line
# `N passed, N failed` (each failed check counts as one failure) and exits non-zero if anything failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! bash scripts/setup.sh; then
  echo "test: scripts/setup.sh failed; fix the error above and rerun" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
# shellcheck source=scripts/env.sh
source scripts/env.sh

mkdir -p test-results
failed_checks=()
check() {
  local name="$1"
  shift
  echo "test: $name"
  if ! "$@"; then
    failed_checks+=("$name")
    echo "test: FAILED: $name" >&2
  fi
}

check "deno fmt --check" deno fmt --check
check "deno lint" deno lint
check_targets=()
[[ -f mod.ts ]] && check_targets+=(mod.ts)
for d in src testing tests bench scripts; do [[ -d "$d" ]] && check_targets+=("$d/"); done
check "deno check ${check_targets[*]}" deno check "${check_targets[@]}"
if [[ -f mod.ts ]]; then
  check "deno doc --lint (every export)" deno doc --lint mod.ts src/display/mod.ts src/plot/mod.ts src/export/mod.ts src/server/mod.ts testing/mod.ts
  # The package stays publishable: a license, no slow types, every export documented.
  check "deno publish --dry-run" deno publish --dry-run --allow-dirty --quiet
fi

if (($# == 0)); then
  set -- src/ testing/ tests/
fi
echo "test: deno test -A $*"
# One log per run, so that runs side by side do not mix their summaries; test.log points at the latest.
log="$(mktemp test-results/test-XXXXXX.log)"
deno test -A "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
ln -sfn "$(basename "$log")" test-results/test.log

summary="$(grep -aE '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -1)"
if [[ -n "$summary" ]]; then
  passed="$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")"
  failed="$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")"
else
  # deno stopped before running tests (type error, no test modules, ...)
  passed=0
  failed=1
  ((rc == 0)) && rc=1
fi
failed=$((failed + ${#failed_checks[@]}))
if ((${#failed_checks[@]} > 0)); then
  echo "test: failed checks: ${failed_checks[*]}" >&2
  ((rc == 0)) && rc=1
fi
((failed > 0 && rc == 0)) && rc=1
echo "$passed passed, $failed failed"
exit "$rc"
