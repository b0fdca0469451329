#!/usr/bin/env bash
# The box's own latency floor, to read beside openwaba's p99 (BENCHMARKS.md, eighteenth and
# nineteenth sessions): the idle box's wake-up jitter (a C loop of nanosleeps) and the
# latency of a one-page `fdatasync` in the data directory's file system (what each group
# commit waits for). Run it with nothing else on the box.
# env: N (sleeps, 40000), DIR (where the fsync probe writes, target/)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${DIR:-target}
mkdir -p "$DIR" target
gcc -O2 -o target/wakeup_jitter bench/box/wakeup_jitter.c
target/wakeup_jitter "${N:-40000}"
python3 - "$DIR" <<'PY'
import os, sys, time
path = os.path.join(sys.argv[1], "fsync-probe.tmp")
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
page, took = b"x" * 4096, []
try:
    for i in range(2000):
        os.pwrite(fd, page, (i % 64) * 4096)
        t = time.perf_counter()
        os.fdatasync(fd)
        took.append((time.perf_counter() - t) * 1e3)
finally:
    os.close(fd)
    os.unlink(path)
took.sort()
print(f"fdatasync of one 4 KiB page (ms): p50 {took[1000]:.3f} p99 {took[1980]:.3f} max {took[-1]:.3f} (2,000 in {sys.argv[1]})")
PY
