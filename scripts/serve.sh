#!/usr/bin/env bash
# Start the action server, wait until it answers, then run the Rasa server (`run`) or
# the terminal chat (`shell`) in the foreground. The action server stops with it.
set -euo pipefail
mode=${1:-run}
rasa=.venv/bin/rasa
actions_port=5055  # must match action_endpoint in endpoints.yml
rasa_port=${RASA_PORT:-5005}
mkdir -p var

"$rasa" run actions --actions actions --port "$actions_port" &
actions_pid=$!
trap 'kill "$actions_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
  if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen('http://localhost:$actions_port/health', timeout=1)" 2>/dev/null; then
    break
  fi
  kill -0 "$actions_pid" 2>/dev/null || { echo "action server failed to start" >&2; exit 1; }
  sleep 0.5
done

api=()
if [ -n "${RASA_AUTH_TOKEN:-}" ]; then
  # The HTTP API (trackers, events, triggers) is only ever enabled behind a token.
  api=(--enable-api --auth-token "$RASA_AUTH_TOKEN")
fi

case "$mode" in
  run)   "$rasa" run --model models/assistant.tar.gz --port "$rasa_port" "${api[@]}" \
           --endpoints endpoints.yml --credentials credentials.yml ;;
  shell) "$rasa" shell --model models/assistant.tar.gz --endpoints endpoints.yml ;;
  *)     echo "usage: $0 run|shell" >&2; exit 2 ;;
esac
