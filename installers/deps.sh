#!/usr/bin/env bash
# Installs what building and testing Hearth needs on Debian/Ubuntu, idempotently.
#   bash installers/deps.sh            # to build and run the headless gateway and its Control UI
#   bash installers/deps.sh --desktop  # plus the system libraries the tray app (Tauri/WebKitGTK) needs
#   bash installers/deps.sh --test     # plus everything the test suite needs (the desktop too)
# Anything already present is left alone; nothing is downloaded when nothing is missing.
set -euo pipefail

want_test=0
want_desktop=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1; want_desktop=1 ;;
    --desktop) want_desktop=1 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Debian packages: a C compiler for the crates that build C (SQLite, ring), and curl/ca-certificates
# for rustup when Rust is missing.
apt_pkgs=(build-essential pkg-config ca-certificates curl)
# Node.js and npm build the Control UI (ui/); the gateway embeds what they build.
if ! command -v npm >/dev/null 2>&1; then apt_pkgs+=(nodejs npm); fi
if [ "$want_desktop" = 1 ]; then
  # Tauri 2 on Linux: WebKitGTK 4.1, GTK 3, the tray (Ayatana AppIndicator), D-Bus.
  apt_pkgs+=(libssl-dev libdbus-1-dev libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev
    libayatana-appindicator3-dev librsvg2-dev libgtk-3-dev)
fi
if [ "$want_test" = 1 ]; then
  # The desktop app under a virtual display and session bus, its WebDriver, a notification daemon,
  # a real Secret Service (gnome-keyring), and Chromium for the browser end-to-end tests.
  apt_pkgs+=(xvfb xauth x11-utils dbus dbus-x11 imagemagick xdotool dunst gnome-keyring libsecret-tools
    keyutils python3-dbus python3-gi chromium chromium-driver webkit2gtk-driver)
fi
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# Rust: the toolchain from rustup (Debian's rustc is too old for edition 2024).
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "==> installing Rust with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  export PATH="$HOME/.cargo/bin:$PATH"
fi
need_version="1.90"
have_version="$(rustc --version | awk '{print $2}')"
if [ "$(printf '%s\n%s\n' "$need_version" "$have_version" | sort -V | head -n1)" != "$need_version" ]; then
  echo "==> Rust $have_version is older than $need_version; updating"
  rustup update stable
fi

if [ "$want_test" = 1 ]; then
  if ! cargo clippy --version >/dev/null 2>&1; then rustup component add clippy; fi
  if ! cargo fmt --version >/dev/null 2>&1; then rustup component add rustfmt; fi
  # The official OpenAI Python SDK, to prove the OpenAI-compatible endpoint works with it.
  venv="${HEARTH_TEST_VENV:-$HOME/.cache/hearth/test-venv}"
  if ! "$venv/bin/python" -c "import openai" >/dev/null 2>&1; then
    echo "==> installing the openai Python SDK into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "openai>=1.40"
  fi
  # The official MCP Python SDK: the test suite's MCP server (crates/hearth-test-utils/src/mcp_server.py).
  if ! "$venv/bin/python" -c "import mcp" >/dev/null 2>&1; then
    echo "==> installing the mcp Python SDK into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "mcp>=1.0"
  fi
  # The WebDriver bridge to the desktop app's webview.
  if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
    echo "==> installing tauri-driver"
    cargo install --locked tauri-driver --version 2.1.0
  fi
  if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install --locked cargo-nextest
  fi
fi

# Node.js: Vite needs 20.19 or newer. Debian 12's own nodejs is 18; NodeSource or Debian 13 have newer.
node_ok=0
if command -v node >/dev/null 2>&1; then
  node_version="$(node --version | tr -d v)"
  if [ "$(printf '%s\n%s\n' "20.19.0" "$node_version" | sort -V | head -n1)" = "20.19.0" ]; then node_ok=1; fi
fi
if [ "$node_ok" != 1 ]; then
  echo "warning: Node.js 20.19 or newer is needed to build the Control UI (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "         Install it (e.g. from https://deb.nodesource.com) and run this again; until then the gateway" >&2
  echo "         serves its minimal built-in page instead of the full Control UI." >&2
fi
