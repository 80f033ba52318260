#!/usr/bin/env bash
# Builds the Control UI (ui/ -> ui/dist), which the gateway embeds at compile time.
# Idempotent and quick when nothing changed: dependencies are installed only when package-lock.json
# changed, and the build is skipped when the sources hash to what was last built (so Cargo does
# not rebuild the core for an unchanged UI).
#   bash installers/build-ui.sh [--test]   # --test also runs the UI's type check and unit tests
set -euo pipefail
cd "$(dirname "$0")/../ui"

run_tests=0
[ "${1:-}" = "--test" ] && run_tests=1

if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is missing; run: bash installers/deps.sh" >&2
  exit 1
fi

bash ../installers/npm-ci.sh .

inputs=()
for p in src public index.html package-lock.json tsconfig.json tsconfig.node.json vite.config.ts svelte.config.js; do
  [ -e "$p" ] && inputs+=("$p")
done
src_hash="$(find "${inputs[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
if [ -f dist/index.html ] && [ "$(cat .build-stamp 2>/dev/null)" = "$src_hash" ]; then
  echo "==> Control UI is up to date (ui/dist)"
else
  echo "==> building the Control UI (ui/dist)"
  npm run --silent build
  echo "$src_hash" > .build-stamp
fi

if [ "$run_tests" = 1 ]; then
  echo "==> Control UI: type check and unit tests"
  npm run --silent check
  npm test --silent
fi
