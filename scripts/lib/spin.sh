# Sourced by scripts: where real Spin is, and how to start an app and a Redis server for it.

# The Spin CLI to use: ORDERHUB_SPIN, else `spin` on PATH, else the team's copy of v3.6.3
# beside the repo (../shared/tools/spin, see its README). Prints nothing when none is found.
orderhub_spin() {
  if [ -n "${ORDERHUB_SPIN:-}" ]; then echo "$ORDERHUB_SPIN"; return; fi
  if command -v spin >/dev/null 2>&1; then command -v spin; return; fi
  local beside
  beside="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/../shared/tools/spin/v3.6.3/spin"
  [ -x "$beside" ] && echo "$beside"
  return 0
}

# A free loopback TCP port.
orderhub_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Wait until URL answers 200 (at most $2 seconds, default 120).
orderhub_wait_http() {
  local url=$1 limit=${2:-120} i
  for i in $(seq 1 $((limit * 5))); do
    curl -sf -o /dev/null "$url" && return 0
    sleep 0.2
  done
  echo "no answer from $url in ${limit}s" >&2
  return 1
}

# Every key-value store label a component of spin.toml names, once each.
orderhub_store_labels() {
  grep -E '^key_value_stores *=' "${1:-spin.toml}" | grep -oE '"[a-z0-9_-]+"' | tr -d '"' | sort -u
}

# A runtime config with every store label on Redis at URL.
orderhub_redis_runtime_config() {
  local url=$1 label
  for label in $(orderhub_store_labels); do
    printf '[key_value_store.%s]\ntype = "redis"\nurl = "%s"\n\n' "$label" "$url"
  done
}
