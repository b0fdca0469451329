#!/usr/bin/env python3
"""Replay throughput from a file and peak memory, for BENCHMARKS.md.

Generates logs with `openwaba gen-log` (cached under bench-data/), then times
`openwaba replay --allow-missing-rates FILE > /dev/null` (the default table report:
parsing, engine and aggregates) a few times, and reads the child's peak RSS from
getrusage. Prints one line per (events, users) with the best and median rates.

usage: bench/replay_file.py [--bin target/release/openwaba] [--events 10000000 ...]
                            [--users 10000 ...] [--runs 3]
"""
import argparse, os, resource, statistics, subprocess, sys, time

def peak_rss_kib(cmd, stdout):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {p.stderr.decode()[-500:]}")
    # ru_maxrss of children is the max over all waited children: run each measured
    # command in a fresh process tree to read its own peak.
    return dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/openwaba")
    ap.add_argument("--events", type=int, nargs="+", default=[10_000_000])
    ap.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="bench-data")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    for users in a.users:
        for events in a.events:
            path = os.path.join(a.dir, f"log-{events}-{users}.jsonl")
            if not os.path.exists(path):
                subprocess.run([a.bin, "gen-log", "--events", str(events), "--users", str(users),
                                "--seed", "7", "-o", path], check=True)
            size = os.path.getsize(path)
            times = []
            for _ in range(a.runs):
                # A fresh interpreter per run isolates ru_maxrss to that run.
                out = subprocess.run([sys.executable, __file__, "--one", a.bin, path],
                                     capture_output=True, text=True, check=True).stdout.split()
                times.append(float(out[0]))
                rss = int(out[1])
            best, med = min(times), statistics.median(times)
            print(f"events={events} users={users} size={size/1e6:.0f}MB "
                  f"best={events/best/1e6:.2f}M ev/s median={events/med/1e6:.2f}M ev/s "
                  f"({med:.2f} s) peak_rss={rss/1024:.1f}MiB")

if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        with open(os.devnull, "wb") as null:
            dt, rss, _ = peak_rss_kib([sys.argv[2], "replay", "--allow-missing-rates", sys.argv[3]], null)
        print(dt, rss)
    else:
        main()
