# Shared by benches/load.sh and benches/scale_http.sh (sourced, not run):
# wrk, the bench server (benches/server.rs), and one measured wrk run.
#
# Needs PORT and THREADS, CONNECTIONS set by the caller.

ensure_wrk() {
    if ! command -v wrk >/dev/null; then
        echo "installing wrk" >&2
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    fi
}

# Builds the bench server and sets EXE to it.
build_server() {
    echo "building the bench server" >&2
    cargo bench --bench server --no-run >&2
    EXE=$(cargo bench --bench server --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    [ -x "$EXE" ] || { echo "no server executable" >&2; exit 1; }
}

URL="http://127.0.0.1:$PORT"
PID=

stop_server() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    PID=
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# start_server VARIANT [server flags...]: starts it and waits until it
# answers (up to WAIT_SECONDS, default 120, for a server that first makes
# its sessions).
start_server() {
    local variant=$1
    shift
    "$EXE" "$variant" "$PORT" "$@" --bench 2>/dev/null &
    PID=$!
    local tries=$((${WAIT_SECONDS:-120} * 20))
    for _ in $(seq "$tries"); do
        curl -s -o /dev/null "$URL/peek" && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "the $variant server did not start" >&2
    exit 1
}

# A valid session cookie: one first visit; plain axum sets none, so it gets
# a cookie of the same size, which it ignores.
session_cookie() {
    local cookie
    cookie=$(curl -s -D - -o /dev/null "$URL/" |
        sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
    if [ -z "$cookie" ]; then
        cookie="sid=wz2q0T1Tv8uA5Pq0fWk3nJm6hR7cYb2xLd9eVg4sKa0=AbCdEfGhIjKlMnOpQrStUvWxYz012345"
    fi
    printf '%s' "$cookie"
}

# measure LABEL SECONDS WRK_ARGS...: 2 s of warm-up, then SECONDS measured
# against the running server; prints "requests warmup_requests rps p99
# cpu_us_per_request". Exits on any non-2xx answer.
measure() {
    local label=$1 seconds=$2 out warm before after requests warm_requests rps p99 non2xx tck cpu_us
    shift 2
    warm=$(wrk -t"$THREADS" -c"$CONNECTIONS" --latency -d2s "$@")
    warm_requests=$(printf '%s\n' "$warm" | awk '/requests in/ { print $1 }')
    before=$(cpu_ticks "$PID")
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" --latency -d"${seconds}s" "$@")
    after=$(cpu_ticks "$PID")
    requests=$(printf '%s\n' "$out" | awk '/requests in/ { print $1 }')
    rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec/ { print $2 }')
    p99=$(printf '%s\n' "$out" | awk '$1 == "99%" { print $2 }')
    non2xx=$(printf '%s\n%s\n' "$warm" "$out" | awk '/Non-2xx/ { print $NF }')
    if [ -n "$non2xx" ]; then
        echo "$label: $non2xx non-2xx answers" >&2
        exit 1
    fi
    # CPU microseconds per request (ticks are 1/CLK_TCK s).
    tck=$(getconf CLK_TCK)
    cpu_us=$(awk -v t=$((after - before)) -v n="$requests" -v h="$tck" 'BEGIN { printf "%.1f", t / h * 1e6 / n }')
    echo "$requests $warm_requests $rps $p99 $cpu_us"
}
