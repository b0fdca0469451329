"""Reads openwaba's /metrics on stdin; prints webhook counts and delivery-lag percentiles
(upper bucket bounds of the histogram), and how late the simulated receipts fired.
usage: lag_summary.py [BEFORE]  -- BEFORE: a /metrics snapshot taken before the load; the
figures are then of the load alone (the preparation's webhooks are left out)."""
import re, sys

def parse(text):
    m = {}
    for name in ("openwaba_webhook_delivery_lag_seconds", "openwaba_receipt_lateness_seconds"):
        buckets = [(float(le), int(v)) for le, v in re.findall(name + r'_bucket\{le="([0-9.]+)"\} (\d+)', text)]
        c = re.search(name + r"_count (\d+)", text)
        m[name] = (buckets, int(c.group(1)) if c else 0)
    for r in ("delivered", "failed"):
        m[r] = int(re.search(r'openwaba_webhook_attempts_total\{result="%s"\} (\d+)' % r, text).group(1))
    return m

now = parse(sys.stdin.read())
if len(sys.argv) > 1:
    before = parse(open(sys.argv[1]).read())
    for k, v in now.items():
        if isinstance(v, tuple):
            b = dict(before[k][0])
            now[k] = ([(le, n - b.get(le, 0)) for le, n in v[0]], v[1] - before[k][1])
        else:
            now[k] = v - before[k]

def summary(name):
    buckets, count = now[name]
    def pct(p):
        for le, v in buckets:
            if v >= p * count:
                return f"<={le * 1000:g}ms"
        return ">1000ms"
    within_1s = dict(buckets).get(1.0, 0)
    return f"p50 {pct(0.5)} p90 {pct(0.9)} p99 {pct(0.99)} p99.9 {pct(0.999)} max-bucket {pct(1.0)} within 1 s: {within_1s}/{count} ({100 * within_1s / max(count, 1):.2f}%)"

print(f"webhooks delivered={now['delivered']} failed_attempts={now['failed']} lag {summary('openwaba_webhook_delivery_lag_seconds')}")
print(f"receipt lateness {summary('openwaba_receipt_lateness_seconds')}")
