#!/usr/bin/env bash
# A local Prefect stack for this project: server, deployments, worker (see `make help`).
#
#   scripts/prefect-stack.sh server   the server in the foreground
#   scripts/prefect-stack.sh worker   a worker of the local-process pool in the foreground
#   scripts/prefect-stack.sh deploy   create the work pool if missing, deploy prefect.yaml,
#                                     close the deployments to unknown parameters, and
#                                     set runs Crashed when their heartbeats stop
#   scripts/prefect-stack.sh up       server and worker in the background, then deploy
#   scripts/prefect-stack.sh down     stop the background worker and server, and wait
#
# Everything lives in .prefect/ (git-ignored): the SQLite database, pid files, logs.
# Only 127.0.0.1 is used; the server sends no analytics.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd -P)"
HOST=127.0.0.1
PORT="${PREFECT_PORT:-4200}"
POOL=local-process
STATE="$ROOT/.prefect"
PREFECT="$ROOT/.venv/bin/prefect"
SERVER_WAIT_SECONDS=120
STOP_GRACE_SECONDS=5
STOP_WAIT_SECONDS=20

export PREFECT_API_URL="${PREFECT_API_URL:-http://$HOST:$PORT/api}"
export PREFECT_HOME="${PREFECT_HOME:-$STATE}"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
# prefect.yaml's pull step stores "{{ $PWD }}": this clone, wherever it lives.
export PWD="$ROOT"

say() { printf 'prefect-stack: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# A pid file can outlive its process (a reboot): only a live prefect process counts.
alive() { [[ -n "${1:-}" ]] && ps -o args= -p "$1" 2>/dev/null | grep -q prefect; }

pid_of() { [[ -f "$STATE/$1.pid" ]] && cat "$STATE/$1.pid" || true; }

healthy() {
    "$ROOT/.venv/bin/python" - "$PREFECT_API_URL/health" <<'EOF' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
EOF
}

any_alive() { ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'; }  # zombies are gone

descendants() {  # every process below $1, at any depth
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$child"
        descendants "$child"
    done
}

start_background() {  # name, command...: run in its own session, log and pid in .prefect/
    local name=$1 pid
    shift
    pid=$(pid_of "$name")
    if alive "$pid"; then
        say "$name already running (pid $pid)"
        return
    fi
    mkdir -p "$STATE"
    setsid "$@" >"$STATE/$name.log" 2>&1 </dev/null &
    echo $! >"$STATE/$name.pid"
    say "$name started (pid $!, log .prefect/$name.log)"
}

stop() {  # name: TERM the process group and any flow runs below it, wait, then KILL
    local name=$1 pid list tenths=0
    pid=$(pid_of "$name")
    if ! alive "$pid"; then
        rm -f "$STATE/$name.pid"
        say "$name not running"
        return
    fi
    # Flow runs start in sessions of their own: note them before their parent goes.
    local -a pids=("$pid")
    mapfile -t -O 1 pids < <(descendants "$pid")
    list=$(IFS=,; echo "${pids[*]}")
    kill -TERM -- "-$pid" "${pids[@]}" 2>/dev/null || true
    while any_alive "$list"; do
        # A Prefect worker may sit on a first SIGTERM; on a second it kills itself.
        if [[ $tenths -eq $((STOP_GRACE_SECONDS * 10)) ]]; then
            kill -TERM -- "-$pid" "${pids[@]}" 2>/dev/null || true
        fi
        if [[ $tenths -ge $((STOP_WAIT_SECONDS * 10)) ]]; then
            say "$name did not stop in ${STOP_WAIT_SECONDS}s: killing it"
            kill -KILL -- "-$pid" "${pids[@]}" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.1
        tenths=$((tenths + 1))
    done
    rm -f "$STATE/$name.pid"
    say "$name stopped"
}

wait_for_server() {
    local pid waited=0
    pid=$(pid_of server)
    until healthy; do
        alive "$pid" || die "the server exited; see .prefect/server.log"
        [[ $waited -lt $SERVER_WAIT_SECONDS ]] || die "no answer from $PREFECT_API_URL/health after ${SERVER_WAIT_SECONDS}s"
        sleep 1
        waited=$((waited + 1))
    done
}

deploy() {
    healthy || die "no Prefect server at $PREFECT_API_URL: run 'make server' or 'make up' first"
    "$PREFECT" work-pool inspect "$POOL" >/dev/null 2>&1 ||
        "$PREFECT" work-pool create "$POOL" --type process
    # One run at a time across both deployments: a manual run waits for the nightly one
    # (each deployment's own concurrency_limit only covers its own runs).
    "$PREFECT" work-pool set-concurrency-limit "$POOL" 1
    "$PREFECT" --no-prompt deploy --all
    # Refuse unknown top-level parameters (409 before a run exists). `prefect deploy` cannot
    # set this part of a deployment's parameter schema and resets it on every deploy: the
    # script sets it through Prefect's client right after (see its docstring for why).
    "$ROOT/.venv/bin/python" "$ROOT/scripts/close_parameter_schema.py"
    # A run whose process dies with its worker would show Running for ever: an automation
    # sets it Crashed when its heartbeats stop (see the script's docstring).
    "$ROOT/.venv/bin/python" "$ROOT/scripts/crash_unresponsive_runs.py"
}

case "${1:-}" in
    server) exec "$PREFECT" server start --host "$HOST" --port "$PORT" ;;
    worker) exec "$PREFECT" worker start --pool "$POOL" ;;
    deploy) deploy ;;
    up)
        if healthy && ! alive "$(pid_of server)"; then
            say "a server not started here already answers at $PREFECT_API_URL: using it"
        else
            start_background server "$PREFECT" server start --host "$HOST" --port "$PORT"
        fi
        wait_for_server
        deploy >"$STATE/deploy.log" 2>&1 || die "deploy failed; see .prefect/deploy.log"
        say "deployed nightly-retrain and manual-retrain (log .prefect/deploy.log)"
        start_background worker "$PREFECT" worker start --pool "$POOL"
        say "UI: http://$HOST:$PORT  (deployments: http://$HOST:$PORT/deployments)"
        ;;
    down)
        stop worker
        stop server
        ;;
    *) die "usage: $0 server|worker|deploy|up|down" ;;
esac
