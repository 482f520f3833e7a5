#!/usr/bin/env bash
# Instructions per request under valgrind's callgrind, in process, for plain
# axum, session-kit (MemoryStore) and tower-sessions 0.15 (MemoryStore), and
# markdown tables of them with the session overhead over plain axum measured
# in the same run.
#
#   benches/instructions.sh                          # every cell, 2,048 + 2,048 requests
#   WARMUP=2048 REQUESTS=2048 benches/instructions.sh
#   KEEP=/tmp/cg benches/instructions.sh             # keep the callgrind files there
#
# Each cell is one process of benches/instructions.rs under
#   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_requests*'
# which counts only the REQUESTS requests that follow WARMUP requests of
# warm-up; the figure is the collected instructions (Ir) over REQUESTS. The
# count depends on the binary and its inputs, not on the machine's load.
#
# Valgrind's CPUID hides SHA-NI, so the sha2 crate takes its software SHA-256
# under valgrind (the probe below prints the path natively and under
# valgrind): the "SHA-256" columns give how many of each request's
# instructions that is, so the rest can be read apart from it.
#
# Callgrind also counts each byte that `rep movsb` moves as one instruction,
# and glibc's memcpy uses `rep movsb` for copies past a few KiB: the 16 KiB
# cart rows are run twice, as they are and with memcpy kept on its vector
# loop (GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=1000000), whose
# count is closer to the copy's cost.
set -euo pipefail
cd "$(dirname "$0")/.."

WARMUP=${WARMUP:-2048}
REQUESTS=${REQUESTS:-2048}
KEEP=${KEEP:-}

for tool in valgrind callgrind_annotate python3; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install -y valgrind python3)" >&2; exit 1; }
done

echo "building the instructions bench" >&2
cargo bench --bench instructions --no-run >&2
EXE=$(cargo bench --bench instructions --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$EXE" ] || { echo "no instructions executable" >&2; exit 1; }

if [ -n "$KEEP" ]; then
    OUT=$KEEP
    mkdir -p "$OUT"
else
    OUT=$(mktemp -d)
    trap 'rm -rf "$OUT"' EXIT
fi
RESULTS=$OUT/results.tsv
: >"$RESULTS"

# The SHA-256 code sha2 picks, natively and under valgrind.
NATIVE_PATH=$("$EXE" --bench --probe | sed -n 's/^sha2 SHA-256 path: //p')
VALGRIND_PATH=$(valgrind --tool=none -q "$EXE" --bench --probe | sed -n 's/^sha2 SHA-256 path: //p')

# Instructions (Ir) of one callgrind file, and those inside SHA-256's block
# function (inclusive).
total_ir() { sed -n 's/^summary: *//p' "$1"; }
sha_ir() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk '/sha2::sha256::compress256 \[/ { gsub(",", "", $1); n += $1 } END { print n + 0 }'
}

VECTOR_MEMCPY=glibc.cpu.x86_rep_movsb_threshold=1000000

run_cell() { # server row [vector]
    local server=$1 row=$2 memcpy=${3:-default} file line ir sha tunables=${GLIBC_TUNABLES:-}
    file=$OUT/callgrind.$server.$row.$memcpy
    if [ "$memcpy" = vector ]; then tunables=${tunables:+$tunables:}$VECTOR_MEMCPY; fi
    line=$(GLIBC_TUNABLES=$tunables valgrind --tool=callgrind --callgrind-out-file="$file" \
        --collect-atstart=no --toggle-collect='*measured_requests*' \
        "$EXE" --bench --server "$server" --row "$row" \
        --warmup "$WARMUP" --requests "$REQUESTS" 2>"$file.log") || {
        echo "$server $row failed under valgrind:" >&2
        cat "$file.log" >&2
        exit 1
    }
    ir=$(total_ir "$file")
    sha=$(sha_ir "$file")
    [ -n "$ir" ] && [ "$ir" -gt 0 ] || { echo "$server $row: no instructions collected" >&2; exit 1; }
    # server row requests set-cookie wall-ns, then the counts and memcpy.
    printf '%s\t%s\t%s\t%s\n' "$line" "$ir" "$sha" "$memcpy" >>"$RESULTS"
    echo "$server $row ($memcpy memcpy): $(awk -v i="$ir" -v n="$REQUESTS" 'BEGIN { printf "%.0f", i / n }') instructions per request" >&2
}

for row in new_visitor returning_counter returning_read_only; do
    for server in axum session-kit tower-sessions; do
        run_cell "$server" "$row"
    done
done
for row in cart_counter cart_read_only; do
    for server in session-kit tower-sessions; do
        run_cell "$server" "$row"
    done
done
for row in returning_counter returning_read_only cart_counter cart_read_only; do
    for server in session-kit tower-sessions; do
        run_cell "$server" "$row" vector
    done
done

# Which SHA-256 code ran under callgrind: the software rounds are inlined
# from sha256/soft.rs, the SHA-NI ones are the function digest_blocks.
RAN=
if grep -qE 'sha2-[0-9.]+/src/sha256/soft\.rs' "$OUT"/callgrind.session-kit.*; then RAN="the software rounds (sha256/soft.rs)"; fi
if grep -q 'sha256::x86::digest_blocks' "$OUT"/callgrind.session-kit.*; then RAN="${RAN:+$RAN and }the SHA-NI rounds (digest_blocks)"; fi

echo
echo "valgrind --tool=callgrind, $WARMUP requests of warm-up then $REQUESTS counted, in process (oneshot, current-thread runtime); $(valgrind --version), $(rustc --version | cut -d' ' -f1-2)"
echo
echo "SHA-256 in sha2: natively $NATIVE_PATH; under valgrind $VALGRIND_PATH (under callgrind, session-kit ran ${RAN:-no sha2 SHA-256})."
echo
python3 - "$RESULTS" <<'PY'
import sys
cells = {}
for line in open(sys.argv[1]):
    server, row, requests, set_cookie, _wall, ir, sha, memcpy = line.split()
    n = int(requests)
    key = (server, row) if memcpy == "default" else (server, row, memcpy)
    cells[key] = (int(ir) / n, int(sha) / n, int(set_cookie) / n)

def k(x):
    return f"{x:,.0f}"

def ratio(base, x):
    return f"{base / x:.2f}x"

rows = [
    ("new_visitor", "new visitor"),
    ("returning_counter", "returning, counter changes"),
    ("returning_read_only", "returning, read only"),
]
print("Instructions per request (vs axum: plain axum's count over the server's, as a throughput ratio; overhead: the server's count minus plain axum's):")
print()
print("| row | plain axum | session-kit | vs axum | overhead | of which SHA-256 | tower-sessions | vs axum | overhead | of which SHA-256 | session-kit overhead vs tower-sessions' |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for key, label in rows:
    axum = cells[("axum", key)][0]
    kit, kit_sha, _ = cells[("session-kit", key)]
    ts, ts_sha, _ = cells[("tower-sessions", key)]
    print(f"| {label} | {k(axum)} | {k(kit)} | {ratio(axum, kit)} | +{k(kit - axum)} | {k(kit_sha)} | "
          f"{k(ts)} | {ratio(axum, ts)} | +{k(ts - axum)} | {k(ts_sha)} | {(kit - axum) / (ts - axum):.2f}x |")
print()
print("Without the SHA-256 block function (what the rows cost apart from the hashing valgrind runs in software):")
print()
print("| row | session-kit overhead | tower-sessions overhead | session-kit vs tower-sessions |")
print("| --- | ---: | ---: | ---: |")
for key, label in rows:
    axum = cells[("axum", key)][0]
    kit, kit_sha, _ = cells[("session-kit", key)]
    ts, ts_sha, _ = cells[("tower-sessions", key)]
    a, b = kit - kit_sha - axum, ts - ts_sha - axum
    print(f"| {label} | +{k(a)} | +{k(b)} | {a / b:.2f}x |")
print()
print("A 16 KiB cart in another struct of the same session, which the request does not extract, against the same request on a one-counter session:")
print()
print("| server | request | memcpy | one-counter session | with a 16 KiB cart | difference | one-counter over cart |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
for server in ["session-kit", "tower-sessions"]:
    for base_key, cart_key, label in [
        ("returning_counter", "cart_counter", "counter changes"),
        ("returning_read_only", "cart_read_only", "read only"),
    ]:
        for memcpy, tail in [("rep movsb (as run)", ()), ("vector loop", ("vector",))]:
            base = cells[(server, base_key) + tail][0]
            cart = cells[(server, cart_key) + tail][0]
            print(f"| {server} | {label} | {memcpy} | {k(base)} | {k(cart)} | +{k(cart - base)} | {base / cart:.2f}x |")
PY
