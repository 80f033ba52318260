#!/usr/bin/env bash
# Builds Hearth and starts it: the gateway in the background, printing the Control UI link.
# First run: installs what the build needs, creates ~/.hearth (or $HEARTH_HOME) with a default
# config and a generated gateway token.
#   HEARTH_PROFILE=debug bash installers/start.sh   # a quicker, unoptimised build
set -euo pipefail
cd "$(dirname "$0")/.."

bash installers/deps.sh
if ! command -v cargo >/dev/null 2>&1; then export PATH="$HOME/.cargo/bin:$PATH"; fi

profile="${HEARTH_PROFILE:-release}"
if [ "$profile" = "release" ]; then
  echo "==> building Hearth (release; the first build takes several minutes)"
  cargo build --release --locked -p hearth-cli
  bin="target/release/hearth"
else
  echo "==> building Hearth (debug)"
  cargo build --locked -p hearth-cli
  bin="target/debug/hearth"
fi

"$bin" gateway start
echo
echo "Stop it with: $bin gateway stop    Status: $bin status    Chat: $bin chat"
