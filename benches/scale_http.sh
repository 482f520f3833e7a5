#!/usr/bin/env bash
# Requests per second over real HTTP against the number of live sessions:
# wrk with 64 connections on loopback against session-kit (MemoryStore) and
# tower-sessions (MemoryStore) holding 1,000, 100,000 and 1,000,000 sessions,
# and plain axum in the same run as the baseline; a markdown table.
#
#   benches/scale_http.sh                              # 8 s per cell
#   DURATION=8 SIZES="1000 100000 1000000" benches/scale_http.sh
#
# Each (server, size) is a fresh server process (benches/server.rs) with an
# unbounded store (session-kit's default one holds a million at most), that
# makes SIZE sessions by in-process new-visitor requests before it listens,
# and writes the cookies of up to 100,000 of them. Against it, in this order
# (the new visitors last, since they add sessions), each 2 s of warm-up then
# DURATION s measured:
#   - returning, counter changes: GET / with a cookie of those sessions,
#     each request the next one (benches/rotate_cookies.lua);
#   - returning, read only: GET /peek, the same way;
#   - one session, counter changes: GET / with one cookie every time;
#   - new visitor: GET / with no cookie; every request adds a session, so
#     the store grows during the run (the table says to how many).
# wrk and the server share the two cores, so the req/s of one cell swings
# by 20-35% between runs: read the trend over sizes, not one cell.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-39411}
SIZES=${SIZES:-"1000 100000 1000000"}
ROWS=(returning_counter returning_read_only one_session_counter new_visitor)

. benches/http_common.sh
ensure_wrk
build_server

WORK=$(mktemp -d)
RESULTS=$WORK/results
: >"$RESULTS"
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
LUA=benches/rotate_cookies.lua

run_row() { # server size row cookies
    local server=$1 size=$2 row=$3 cookies=$4 requests warm rps p99 cpu_us args=()
    case $row in
    returning_counter) args=(-s "$LUA" "$URL/" -- "$cookies") ;;
    returning_read_only) args=(-s "$LUA" "$URL/peek" -- "$cookies") ;;
    one_session_counter) args=(-H "Cookie: $(head -1 "$cookies")" "$URL/") ;;
    new_visitor) args=("$URL/") ;;
    esac
    read -r requests warm rps p99 cpu_us < <(measure "$server $size $row" "$DURATION" "${args[@]}")
    echo "$server $size $row $rps $cpu_us $p99 $requests $warm" >>"$RESULTS"
    echo "$server, $size sessions, $row: $rps req/s, $cpu_us us CPU/req, p99 $p99" >&2
}

# Plain axum: no store; its returning rows send a cookie of the same size,
# which it ignores.
start_server axum
session_cookie >"$WORK/axum.cookies"
echo >>"$WORK/axum.cookies"
for row in "${ROWS[@]}"; do
    run_row axum 0 "$row" "$WORK/axum.cookies"
done
stop_server

for server in session-kit tower-sessions; do
    for size in $SIZES; do
        cookies=$WORK/$server.$size.cookies
        echo "$server: making $size sessions" >&2
        start_server "$server" --unbounded --prefill "$size" --cookies "$cookies"
        [ -s "$cookies" ] || { echo "$server wrote no cookies" >&2; exit 1; }
        for row in "${ROWS[@]}"; do
            run_row "$server" "$size" "$row" "$cookies"
        done
        stop_server
    done
done

echo
echo "wrk -t$THREADS -c$CONNECTIONS, 2 s warm-up then ${DURATION} s per cell, one server process per (server, size), $(nproc) cores shared by server and wrk"
echo
python3 - "$RESULTS" "$SIZES" <<'PY'
import sys
cells = {}
for line in open(sys.argv[1]):
    server, size, row, rps, cpu, p99, requests, warm = line.split()
    cells[(server, int(size), row)] = (float(rps), float(cpu), p99, int(requests), int(warm))
sizes = [int(s) for s in sys.argv[2].split()]
labels = {
    "returning_counter": "returning, counter changes",
    "returning_read_only": "returning, read only",
    "one_session_counter": "one session, counter changes",
    "new_visitor": "new visitor",
}
head = "| server | row | plain axum |" + "".join(f" {s:,} sessions |" for s in sizes)
head += "".join(f" {s:,} vs {sizes[0]:,} |" for s in sizes[1:])
head += f" {sizes[-1]:,} vs axum |"
print("req/s (server CPU per request):")
print()
print(head)
print("| --- | --- | ---: |" + " ---: |" * (2 * len(sizes)))
for server in ["session-kit", "tower-sessions"]:
    for row, label in labels.items():
        axum = cells[("axum", 0, row)]
        line = f"| {server} | {label} | {axum[0]:,.0f} ({axum[1]} us) |"
        for s in sizes:
            c = cells[(server, s, row)]
            line += f" {c[0]:,.0f} ({c[1]} us) |"
        base = cells[(server, sizes[0], row)][0]
        for s in sizes[1:]:
            line += f" {cells[(server, s, row)][0] / base:.2f}x |"
        line += f" {cells[(server, sizes[-1], row)][0] / axum[0]:.2f}x |"
        print(line)
print()
print("The new-visitor cells add a session per request; the stores ended at:")
print()
print("| server |" + "".join(f" from {s:,} |" for s in sizes))
print("| --- |" + " ---: |" * len(sizes))
for server in ["session-kit", "tower-sessions"]:
    line = f"| {server} |"
    for s in sizes:
        c = cells[(server, s, "new_visitor")]
        line += f" {s + c[3] + c[4]:,} |"
    print(line)
PY
