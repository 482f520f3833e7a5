#!/usr/bin/env bash
# The real-HTTP load run: wrk with 64 connections on loopback against plain
# axum, session-kit (MemoryStore) and tower-sessions (MemoryStore), the same
# counter handler, one server at a time, and a markdown table of req/s and
# ratios against plain axum measured in the same run.
#
#   benches/load.sh                 # 8 s per run, 1 round
#   DURATION=8 ROUNDS=3 benches/load.sh   # the median of 3 rounds per cell
#
# Rows: a new visitor (no cookie: every request starts a session), a returning
# visitor whose counter changes (GET / with a valid cookie), a read-only
# returning visitor (GET /peek with a valid cookie). Each cell is a fresh
# server process: 2 s of warm-up, then DURATION seconds measured. The server
# CPU per request is the server process's user+system time over the measured
# run divided by the requests wrk completed.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-1}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-39401}
# VARIANTS="axum session-kit session-kit-cookie" picks others (plain axum
# first: the ratios are against it); the default is the three below.
read -r -a VARIANTS <<<"${VARIANTS:-axum session-kit tower-sessions}"
ROWS=(new_visitor returning_counter returning_read_only)

. benches/http_common.sh
ensure_wrk
build_server

RESULTS=$(mktemp)
cleanup() {
    stop_server
    rm -f "$RESULTS"
}
trap cleanup EXIT

run_cell() { # round row variant
    local round=$1 row=$2 variant=$3 path=/ cookie= requests warm rps cpu_us p99
    start_server "$variant"
    case $row in
    returning_counter) cookie=$(session_cookie) ;;
    returning_read_only) cookie=$(session_cookie); path=/peek ;;
    esac
    local args=()
    if [ -n "$cookie" ]; then args+=(-H "Cookie: $cookie"); fi
    read -r requests warm rps p99 cpu_us < <(measure "$variant $row" "$DURATION" "${args[@]}" "$URL$path")
    stop_server
    echo "$round $row $variant $rps $cpu_us $p99" >>"$RESULTS"
    echo "round $round, $row, $variant: $rps req/s, $cpu_us us CPU/req, p99 $p99" >&2
}

for round in $(seq "$ROUNDS"); do
    for row in "${ROWS[@]}"; do
        for variant in "${VARIANTS[@]}"; do
            run_cell "$round" "$row" "$variant"
        done
    done
done

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, median of $ROUNDS round(s), $(nproc) cores shared by server and wrk"
echo
python3 - "$RESULTS" "${VARIANTS[@]}" <<'PY'
import statistics, sys
cells = {}
for line in open(sys.argv[1]):
    _, row, variant, rps, cpu, p99 = line.split()
    cells.setdefault((row, variant), []).append((float(rps), float(cpu), p99))
def median(row, variant, i):
    return statistics.median(c[i] for c in cells[(row, variant)])
variants = sys.argv[2:]
if variants != ["axum", "session-kit", "tower-sessions"]:
    # Any other set: req/s and CPU per request of each, with its ratio to
    # the first (plain axum).
    head = " | ".join(f"{v} req/s | vs {variants[0]} | {v} CPU/req" for v in variants)
    print(f"| row | {head} |")
    print("| --- |" + " ---: | ---: | ---: |" * len(variants))
    for row in ["new_visitor", "returning_counter", "returning_read_only"]:
        base = median(row, variants[0], 0)
        cols = " | ".join(
            f"{median(row, v, 0):,.0f} | {median(row, v, 0) / base:.2f}x | {median(row, v, 1):.1f} us"
            for v in variants)
        print(f"| {row.replace('_', ' ')} | {cols} |")
    sys.exit(0)
print("| row | plain axum req/s | session-kit req/s | vs axum | tower-sessions req/s | vs axum | session-kit vs tower-sessions | server CPU/req axum / session-kit / tower-sessions |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for row in ["new_visitor", "returning_counter", "returning_read_only"]:
    base = median(row, "axum", 0)
    kit = median(row, "session-kit", 0)
    ts = median(row, "tower-sessions", 0)
    cpu = " / ".join("%.1f us" % median(row, v, 1) for v in ["axum", "session-kit", "tower-sessions"])
    print(f"| {row.replace('_', ' ')} | {base:,.0f} | {kit:,.0f} | {kit / base:.2f}x | {ts:,.0f} | {ts / base:.2f}x | {kit / ts:.2f}x | {cpu} |")
PY
