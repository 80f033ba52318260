#!/usr/bin/env bash
# Builds Hearth and starts it. With a display: the tray app (its window opens on the Control UI).
# Without one: the headless gateway in the background, printing the Control UI link.
# First run: installs what the build needs, creates ~/.hearth (or $HEARTH_HOME) with a default
# config and a generated gateway token.
#   HEARTH_PROFILE=debug bash installers/start.sh   # a quicker, unoptimised build
#   HEARTH_HEADLESS=1 bash installers/start.sh      # the headless gateway even with a display
set -euo pipefail
cd "$(dirname "$0")/.."

desktop=0
if [ -z "${HEARTH_HEADLESS:-}" ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  desktop=1
fi

if [ "$desktop" = 1 ]; then bash installers/deps.sh --desktop; else bash installers/deps.sh; fi
if ! command -v cargo >/dev/null 2>&1; then export PATH="$HOME/.cargo/bin:$PATH"; fi
if ! bash installers/build-ui.sh; then
  echo "warning: the Control UI did not build; the gateway will serve its minimal built-in page" >&2
fi

profile="${HEARTH_PROFILE:-release}"
cargo_flags=(--locked)
if [ "$profile" = "release" ]; then
  cargo_flags+=(--release)
  echo "==> building Hearth (release; the first build takes several minutes)"
else
  echo "==> building Hearth (debug)"
fi
target_dir="${CARGO_TARGET_DIR:-target}/$profile"

if [ "$desktop" = 1 ]; then
  cargo build "${cargo_flags[@]}" -p hearth-cli -p hearth-desktop
  log="${HEARTH_HOME:-$HOME/.hearth}/logs/desktop.out"
  mkdir -p "$(dirname "$log")"
  echo "==> starting the Hearth tray app (a second launch focuses the running one)"
  nohup "$target_dir/hearth-desktop" >>"$log" 2>&1 &
  disown || true
  # The app starts its gateway in-process; wait until it answers, then print the link.
  for _ in $(seq 1 300); do
    if "$target_dir/hearth" status >/dev/null 2>&1 && url="$("$target_dir/hearth" dashboard 2>/dev/null)"; then
      echo "Hearth is running in your tray. Control UI: $url"
      echo "Quit it from the tray menu. CLI: $target_dir/hearth status"
      exit 0
    fi
    sleep 0.1
  done
  echo "The tray app did not answer yet; see $log" >&2
  exit 1
fi

cargo build "${cargo_flags[@]}" -p hearth-cli
bin="$target_dir/hearth"
"$bin" gateway start
echo
echo "Stop it with: $bin gateway stop    Status: $bin status    Chat: $bin chat"
