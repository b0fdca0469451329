"""Reads openwaba's /metrics on stdin; prints webhook counts and delivery-lag percentiles
(upper bucket bounds of the histogram)."""
import re, sys

text = sys.stdin.read()
buckets = [(float(le), int(v)) for le, v in re.findall(r'openwaba_webhook_delivery_lag_seconds_bucket\{le="([0-9.]+)"\} (\d+)', text)]
count = int(re.search(r"openwaba_webhook_delivery_lag_seconds_count (\d+)", text).group(1))
delivered = re.search(r'openwaba_webhook_attempts_total\{result="delivered"\} (\d+)', text).group(1)
failed = re.search(r'openwaba_webhook_attempts_total\{result="failed"\} (\d+)', text).group(1)
def pct(p):
    for le, v in buckets:
        if v >= p * count:
            return f"<={le * 1000:g}ms"
    return ">1000ms"
within_1s = dict(buckets).get(1.0, 0)
print(f"webhooks delivered={delivered} failed_attempts={failed} lag p50 {pct(0.5)} p90 {pct(0.9)} p99 {pct(0.99)} within 1 s: {within_1s}/{count} ({100 * within_1s / max(count, 1):.2f}%)")
