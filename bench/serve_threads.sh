#!/usr/bin/env bash
# Where the server's CPU goes, by thread (see BENCHMARKS.md): starts `openwaba serve` as
# serve_load.sh does, drives it with wrk, and over an 8 s window reads each thread's user and
# system time and context switches (/proc/PID/task), the box's idle time (/proc/stat) and
# the bytes the process wrote (/proc/PID/io), per accepted send, and its resident memory at
# the window's end (VmRSS: mostly the messages waiting for their receipts).
# env: CONNS (128), BIN, USERS, RECEIPTS (auto); see serve_common.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/serve_common.sh
trap 'stop_server' EXIT
start_server
T=$(mktemp -d)
OPENWABA_USERS=$USERS wrk -t2 -c${CONNS:-128} -d14s -s bench/send.lua \
  http://127.0.0.1:$PORT/v23.0/300000000000001/messages > "$T/wrk" &
WRK=$!
sleep 3
# tid, name, user and system ticks, voluntary and involuntary context switches
snap() {
  for f in /proc/$SERVER/task/*; do
    echo "$(basename "$f") $(tr ' ' _ < "$f/comm") $(awk '{print $14, $15}' "$f/stat") \
      $(awk '/^voluntary_ctxt/ {v=$2} /^nonvoluntary_ctxt/ {n=$2} END {print v, n}' "$f/status")"
  done
}
S0=$(accepted_sends $PORT); snap > "$T/s0"; head -1 /proc/stat > "$T/p0"; cp /proc/$SERVER/io "$T/io0"; T0=$(date +%s.%N)
sleep 8
S1=$(accepted_sends $PORT); snap > "$T/s1"; head -1 /proc/stat > "$T/p1"; cp /proc/$SERVER/io "$T/io1"; T1=$(date +%s.%N)
RSS=$(awk '/^VmRSS/ {print $2}' /proc/$SERVER/status)
wait $WRK
python3 - "$T" "$S0" "$S1" "$T0" "$T1" "$(getconf CLK_TCK)" <<'PY'
import sys
t, s0, s1, t0, t1, hz = sys.argv[1], *map(float, sys.argv[2:])
dt, n = t1 - t0, s1 - s0
def threads(p):
    return {l.split()[0]: (l.split()[1], *map(int, l.split()[2:])) for l in open(p)}
a, b = threads(f"{t}/s0"), threads(f"{t}/s1")
by_name = {}
for tid, (name, *v) in b.items():
    if tid in a:
        x = by_name.setdefault(name, [0, 0, 0, 0])
        for i in range(4):
            x[i] += v[i] - a[tid][i + 1]
print(f"{n / dt:,.0f} sends/s")
total = 0
for name, (u, s, v, nv) in sorted(by_name.items()):
    total += u + s
    if u + s + v + nv:
        print(f"  {name:16s} user {u / hz / dt:.2f} sys {s / hz / dt:.2f} cores, "
              f"{(u + s) * 1e6 / hz / n:5.1f} us/send, context switches/send {v / n:.3f} voluntary, {nv / n:.3f} involuntary")
print(f"  all threads {total * 1e6 / hz / n:.1f} us of CPU per send")
p0 = list(map(int, open(f"{t}/p0").read().split()[1:]))
p1 = list(map(int, open(f"{t}/p1").read().split()[1:]))
d = [y - x for x, y in zip(p0, p1)]
print(f"  box idle {100 * d[3] / sum(d):.1f}%")
io = [dict(l.split(": ") for l in open(f"{t}/io{i}").read().splitlines()) for i in (0, 1)]
print(f"  bytes written per send {(int(io[1]['wchar']) - int(io[0]['wchar'])) / n:.0f} "
      f"(sockets included), to storage {(int(io[1]['write_bytes']) - int(io[0]['write_bytes'])) / n:.0f}")
PY
echo "  resident memory ${RSS} kB"
grep Requests/sec "$T/wrk"
rm -rf "$T"
