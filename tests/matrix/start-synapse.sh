#!/usr/bin/env bash
# Runs a throwaway Synapse homeserver in the foreground, for the Matrix adapter's end-to-end test
# (crates/hearth-channels/tests/matrix.rs) or by hand:
#
#     bash tests/matrix/start-synapse.sh <dir> <port>
#
# <dir> holds its config, keys, SQLite database and media; the config is generated there once.
# The server is named `localhost`, listens on 127.0.0.1:<port> (client API only), lets anyone
# register without verification and has generous rate limits, so tests never wait on them.
# Install Synapse first with `bash tests/matrix/setup-synapse.sh`.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 <dir> <port>" >&2
    exit 2
fi
dir="$(mkdir -p "$1" && cd "$1" && pwd)"
port="$2"
cache="${HEARTH_TEST_CACHE:-$HOME/.cache/hearth-test}"
python="$cache/synapse-venv/bin/python"

if ! [ -x "$python" ] || ! "$python" -c 'import synapse.app.homeserver' 2>/dev/null; then
    echo "Synapse is not installed in $cache/synapse-venv: run \`bash tests/matrix/setup-synapse.sh\`" >&2
    exit 3
fi

secret() { "$python" -c 'import secrets; print(secrets.token_hex(24))'; }

if ! [ -f "$dir/homeserver.yaml" ]; then
    # Written to a temporary name first, so an interrupted run never leaves half a config.
    cat > "$dir/homeserver.yaml.tmp" <<YAML
server_name: "localhost"
pid_file: "$dir/homeserver.pid"
database:
  name: sqlite3
  args:
    database: "$dir/homeserver.db"
media_store_path: "$dir/media_store"
signing_key_path: "$dir/localhost.signing.key"
macaroon_secret_key: "$(secret)"
form_secret: "$(secret)"
registration_shared_secret: "$(secret)"
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
enable_registration: true
enable_registration_without_verification: true
url_preview_enabled: false
presence:
  enabled: false
rc_message:
  per_second: 1000
  burst_count: 1000
rc_registration:
  per_second: 1000
  burst_count: 1000
rc_login:
  address:
    per_second: 1000
    burst_count: 1000
  account:
    per_second: 1000
    burst_count: 1000
  failed_attempts:
    per_second: 1000
    burst_count: 1000
rc_joins:
  local:
    per_second: 1000
    burst_count: 1000
  remote:
    per_second: 1000
    burst_count: 1000
rc_joins_per_room:
  per_second: 1000
  burst_count: 1000
rc_invites:
  per_room:
    per_second: 1000
    burst_count: 1000
  per_user:
    per_second: 1000
    burst_count: 1000
  per_issuer:
    per_second: 1000
    burst_count: 1000
rc_key_requests:
  per_second: 1000
  burst_count: 1000
YAML
    mv "$dir/homeserver.yaml.tmp" "$dir/homeserver.yaml"
fi

# The listener lives in its own file, rewritten each start, so the same <dir> can be run on
# another port.
cat > "$dir/listener.yaml" <<YAML
listeners:
  - port: $port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
YAML

cd "$dir"
if ! [ -f "$dir/localhost.signing.key" ]; then
    "$python" -m synapse.app.homeserver -c "$dir/homeserver.yaml" -c "$dir/listener.yaml" --generate-keys
fi
exec "$python" -m synapse.app.homeserver -c "$dir/homeserver.yaml" -c "$dir/listener.yaml"
