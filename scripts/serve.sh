#!/usr/bin/env bash
# `run`: the action server (5055), the agent console (8000), the Rasa server (5005) and the
# follow-up runner in the foreground. Ctrl-C or SIGTERM stops them all; if one dies, the
# others are stopped and the failure is reported with its exit code. `shell`: the terminal chat instead of the
# Rasa server.
set -uo pipefail
mode=${1:-run}
rasa=.venv/bin/rasa
python=.venv/bin/python
actions_port=${ACTIONS_PORT:-5055}  # must match action_endpoint in $ENDPOINTS
rasa_port=${RASA_PORT:-5005}
endpoints=${ENDPOINTS:-endpoints.yml}
export CONSOLE_PORT=${CONSOLE_PORT:-8000}
mkdir -p var

declare -A names=()
stop_all() {
  trap - INT TERM EXIT
  for pid in "${!names[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

start() {  # start NAME COMMAND...: run in the background and remember it by name
  local name=$1; shift
  "$@" &
  names[$!]=$name
}

wait_for() {  # wait_for NAME URL
  for _ in $(seq 1 480); do
    if "$python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$2" 2>/dev/null; then
      return 0
    fi
    for pid in "${!names[@]}"; do
      kill -0 "$pid" 2>/dev/null || { echo "serve: the ${names[$pid]} failed to start" >&2; exit 1; }
    done
    sleep 0.5
  done
  echo "serve: the $1 did not answer on $2" >&2; exit 1
}

start "action server" "$rasa" run actions --actions actions --port "$actions_port"
wait_for "action server" "http://localhost:$actions_port/health"

if [ "$mode" = shell ]; then
  "$rasa" shell --model models/assistant.tar.gz --endpoints "$endpoints" \
    --conversation-id "${SHOPPER_ID:-demo-xiaoyu}"
  exit $?
fi
[ "$mode" = run ] || { echo "usage: $0 run|shell" >&2; exit 2; }

if [ -z "${AGENT_API_TOKEN:-}" ]; then
  echo "serve: AGENT_API_TOKEN is not set; the console's machine API uses the development token 'dev-agent-token'" >&2
fi
# The console and the follow-up runner use Rasa's HTTP API, which is only ever enabled
# behind a token: a random one for this run unless RASA_AUTH_TOKEN is set.
export RASA_AUTH_TOKEN=${RASA_AUTH_TOKEN:-$("$python" -c "import secrets; print(secrets.token_hex(16))")}
export RASA_URL=${RASA_URL:-http://localhost:$rasa_port}
start "agent console" "$python" -m bot.console
wait_for "agent console" "http://localhost:$CONSOLE_PORT/health"
start "Rasa server" "$rasa" run --model models/assistant.tar.gz --port "$rasa_port" \
  --enable-api --auth-token "$RASA_AUTH_TOKEN" --endpoints "$endpoints" --credentials credentials.yml
wait_for "Rasa server" "http://localhost:$rasa_port/"
start "follow-up runner" "$python" -m bot.followup

# The first of them to exit ends the run; say which one and how. Polled rather than
# `wait -n`: a service that died while another was starting is already reaped, and
# `wait -n` would then wait for the next one instead.
while true; do
  for pid in "${!names[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      status=$?
      echo "serve: the ${names[$pid]} stopped (exit code $status); stopping the others" >&2
      exit $(( status == 0 ? 1 : status ))
    fi
  done
  sleep 1
done
