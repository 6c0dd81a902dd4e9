#!/usr/bin/env bash
# Regenerates the checked-in wire code from our own definitions:
#   proto/**/*.proto          -> src/generated/proto/   (protobuf-es v2, target=ts, import_extension=ts)
#   proto/barrage/barrage.fbs -> src/generated/barrage/ (flatc --ts --ts-flat-files)
# then type-checks the result. Idempotent: running it twice gives the same files.
#
# Tools live outside the repository, in $DH_DENO_GEN_CACHE (default ~/.cache/dh-deno/gen):
#   @bufbuild/buf (the compiler; its npm package ships the binary) and @bufbuild/protoc-gen-es, both via npm;
#   flatc from Debian's flatbuffers-compiler (installed with apt-get when missing and running as root).
# Needs: node + npm, deno; apt-get only if flatc is missing.
#
# The generated folder is excluded from `deno fmt` and `deno lint` (deno.json), on purpose: the files stay
# byte-for-byte what the generators wrote, so a rerun never produces a diff. Never edit them by hand.
set -euo pipefail

BUF_VERSION="1.75.0"
PROTOC_GEN_ES_VERSION="2.17.0" # must equal the @bufbuild/protobuf runtime pinned in deno.json
FLATC_EXPECTED="flatc version 2.0.8"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DH_DENO_GEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dh-deno/gen}"
export DENO_TLS_CA_STORE=system NO_COLOR=1 RUST_BACKTRACE=0

die() {
  echo "gen.sh: $*" >&2
  exit 1
}

# --- tools -------------------------------------------------------------------------------------------
command -v deno >/dev/null || die "deno was not found on PATH. Install Deno 2.9.3 and run this again."
command -v node >/dev/null || die "node was not found on PATH; protoc-gen-es runs on Node. Install Node.js and run this again."
command -v npm >/dev/null || die "npm was not found on PATH. Install npm and run this again."

installed_version() { # <package dir> -> version or empty
  local pj="$CACHE/node_modules/$1/package.json"
  [[ -f "$pj" ]] && node -p "require(process.argv[1]).version" "$pj" 2>/dev/null || true
}

if [[ "$(installed_version @bufbuild/buf)" != "$BUF_VERSION" ||
  "$(installed_version @bufbuild/protoc-gen-es)" != "$PROTOC_GEN_ES_VERSION" ]]; then
  echo "gen.sh: installing @bufbuild/buf@$BUF_VERSION and @bufbuild/protoc-gen-es@$PROTOC_GEN_ES_VERSION into $CACHE"
  mkdir -p "$CACHE"
  [[ -f "$CACHE/package.json" ]] || echo '{"private": true}' >"$CACHE/package.json"
  npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error \
    "@bufbuild/buf@$BUF_VERSION" "@bufbuild/protoc-gen-es@$PROTOC_GEN_ES_VERSION" >/dev/null
fi
BUF="$CACHE/node_modules/.bin/buf"
PROTOC_GEN_ES="$CACHE/node_modules/.bin/protoc-gen-es"
[[ -x "$BUF" && -x "$PROTOC_GEN_ES" ]] || die "the code generators are missing from $CACHE. Delete that folder and run this again."

if ! command -v flatc >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "gen.sh: installing flatbuffers-compiler with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq flatbuffers-compiler >/dev/null
  else
    die "flatc was not found on PATH. Install Debian's flatbuffers-compiler (flatc 2.0.8) and run this again."
  fi
fi
if [[ "$(flatc --version)" != "$FLATC_EXPECTED" ]]; then
  echo "gen.sh: warning: found '$(flatc --version)', expected '$FLATC_EXPECTED'; the barrage output may differ." >&2
fi

# --- generate into a scratch folder, then swap it in -----------------------------------------------------
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$ROOT"
TEMPLATE="$(
  cat <<EOF
{"version": "v2", "plugins": [{"local": "$PROTOC_GEN_ES", "out": "$WORK/proto",
  "opt": ["target=ts", "import_extension=ts"]}]}
EOF
)"
# proto/ is the include root: imports are written as "deephaven_core/proto/ticket.proto".
"$BUF" generate proto --template "$TEMPLATE"

mkdir -p "$WORK/barrage"
flatc --ts --ts-flat-files -o "$WORK/barrage" proto/barrage/barrage.fbs
# Deno needs explicit extensions on relative imports (flat files have none today; kept for safety).
find "$WORK/barrage" -name '*.ts' -exec sed -i -E "s#from '(\.\.?/[^']+)'#from '\1.ts'#" {} +

# Packages as versioned npm: specifiers (the versions of deno.json's import map), so that the module also
# resolves when it is imported from a folder with another deno.json, or none.
spec_of() { deno eval "console.log(JSON.parse(Deno.readTextFileSync('deno.json')).imports['$1'])"; }
PROTOBUF_SPEC="$(spec_of @bufbuild/protobuf)"
FLATBUFFERS_SPEC="$(spec_of flatbuffers)"
find "$WORK" -name '*.ts' -exec sed -i -E \
  -e "s#from \"@bufbuild/protobuf(/[a-z0-9]+)?\"#from \"$PROTOBUF_SPEC\\1\"#" \
  -e "s#from 'flatbuffers'#from '$FLATBUFFERS_SPEC'#" {} +

[[ -f "$WORK/proto/deephaven_core/proto/table_pb.ts" ]] || die "buf generate wrote no table_pb.ts; see the output above."
[[ -f "$WORK/barrage/barrage_generated.ts" ]] || die "flatc wrote no barrage_generated.ts; see the output above."

mkdir -p src/generated
rm -rf src/generated/proto src/generated/barrage
cp -R "$WORK/proto" src/generated/proto
cp -R "$WORK/barrage" src/generated/barrage

# --- verify ------------------------------------------------------------------------------------------
mapfile -t GENERATED < <(find src/generated/proto src/generated/barrage -name '*.ts' | LC_ALL=C sort)
deno check "${GENERATED[@]}"
echo "gen.sh: generated ${#GENERATED[@]} files under src/generated/{proto,barrage} and they type-check."
