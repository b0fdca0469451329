#!/usr/bin/env bash
# The box's own latency floor, to read beside openwaba's p99 (BENCHMARKS.md, eighteenth and
# nineteenth sessions): the idle box's wake-up jitter (a C loop of nanosleeps) and the
# latency of a one-page `fdatasync` in the file system the benchmarks' servers keep their
# data in (what each group commit waits for): a `mktemp -d` directory, as serve_common.sh
# makes, unless DIR names another. Run it with nothing else on the box.
# env: N (sleeps, 40000), DIR (where the fsync probe writes)
set -euo pipefail
cd "$(dirname "$0")/.."
PROBE_DIR=$(mktemp -d ${DIR:+-p "$DIR"})
trap 'rm -rf "$PROBE_DIR"' EXIT
mkdir -p target
gcc -O2 -o target/wakeup_jitter bench/box/wakeup_jitter.c
target/wakeup_jitter "${N:-40000}"
python3 - "$PROBE_DIR" <<'PY'
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
took.sort()
n = len(took)
print(f"fdatasync of one 4 KiB page (ms): p50 {took[n // 2]:.3f} p99 {took[n * 99 // 100]:.3f} max {took[-1]:.3f} ({n:,} in {sys.argv[1]})")
PY
