#!/usr/bin/env bash
# `npm ci` in DIR, only when its package-lock.json changed since the last install there.
#   bash installers/npm-ci.sh ui
set -euo pipefail
dir="${1:?usage: npm-ci.sh DIR}"
lock_hash="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [ ! -d "$dir/node_modules" ] || [ "$(cat "$dir/node_modules/.hearth-lock-hash" 2>/dev/null)" != "$lock_hash" ]; then
  echo "==> installing the npm packages of $dir"
  npm --prefix "$dir" ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$dir/node_modules/.hearth-lock-hash"
fi
