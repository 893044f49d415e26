"""A tiny workload for tests: `tick` lines at --rate for --seconds; every 5th is SLOW."""

import argparse
import time

ap = argparse.ArgumentParser()
ap.add_argument("--rate", type=float, default=30)
ap.add_argument("--seconds", type=float, default=2)
ap.add_argument("--tag", default="")
a = ap.parse_args()
n = int(a.rate * a.seconds)
for i in range(n):
    print("tick", i, flush=True)
    if i % 5 == 4:
        print(f"SLOW latency={i / 10:.1f}ms", flush=True)
    time.sleep(1 / a.rate)
print(f"done {n} ticks tag={a.tag}", flush=True)
