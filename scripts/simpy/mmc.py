"""M/M/c in SimPy 4, the model `outagesim run scenarios/mmc.toml` runs, for the speed comparison.

Poisson arrivals (rate LAMBDA), C servers (a simpy.Resource, FIFO), exponential service (mean
1/MU), one process per request. It keeps the statistics outagesim keeps for that scenario, per
time bucket (60 simulated seconds): requests started, successes finished, a log-linear histogram
of response times in integer nanoseconds (16 linear bins per power of two, the same bins as
outagesim's `Histogram`), and the service's arrivals, summed queueing wait and longest queue.
No other bookkeeping, no printing inside the run.

Usage: python mmc.py N [SEED]  -- simulates until N requests have arrived, then prints one line:
`requests=N finished=F cpu_s=T requests_per_cpu_s=R p50_s=.. p99_s=..`, where T is
`time.process_time()` around building and running the model (not the interpreter's start-up).
"""

import random
import sys
import time

import simpy

LAMBDA = 8.0
MU = 1.0
C = 10
BUCKET_S = 60.0
SUB = 16
OCTAVES = 46


def bin_of(ns):
    """The log-linear bin of a latency in nanoseconds (outagesim's `Histogram::index`)."""
    if ns < SUB:
        return ns
    octave = ns.bit_length() - 1
    sub = (ns >> (octave - 4)) & (SUB - 1)
    return min((octave - 3) * SUB + sub, OCTAVES * SUB - 1)


def bin_lower(i):
    if i < SUB:
        return i
    octave = i // SUB + 3
    return (SUB + i % SUB) << (octave - 4)


class Bucket:
    __slots__ = ("requests", "successes", "latency", "arrivals", "wait_ns", "max_queue")

    def __init__(self):
        self.requests = 0
        self.successes = 0
        self.latency = [0] * (OCTAVES * SUB)
        self.arrivals = 0
        self.wait_ns = 0
        self.max_queue = 0


def run(n, seed):
    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=C)
    buckets = []

    def bucket(t):
        i = int(t // BUCKET_S)
        while len(buckets) <= i:
            buckets.append(Bucket())
        return buckets[i]

    def request(env):
        start = env.now
        b = bucket(start)
        b.requests += 1
        b.arrivals += 1
        with server.request() as req:
            q = len(server.queue)
            if q > b.max_queue:
                b.max_queue = q
            yield req
            b.wait_ns += int((env.now - start) * 1e9)
            yield env.timeout(rng.expovariate(MU))
        end = env.now
        e = bucket(end)
        e.successes += 1
        e.latency[bin_of(int((end - start) * 1e9))] += 1

    def source(env):
        for _ in range(n):
            yield env.timeout(rng.expovariate(LAMBDA))
            env.process(request(env))

    env.process(source(env))
    env.run()
    return buckets


def quantile(hist, count, q):
    rank = max(1, min(count, -(-int(q * count * 1e9) // int(1e9))))
    seen = 0
    for i, c in enumerate(hist):
        seen += c
        if seen >= rank:
            return (bin_lower(i) + bin_lower(i + 1)) / 2e9
    return 0.0


def main():
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    t0 = time.process_time()
    buckets = run(n, seed)
    cpu = time.process_time() - t0
    total = [0] * (OCTAVES * SUB)
    for b in buckets:
        for i, c in enumerate(b.latency):
            total[i] += c
    finished = sum(b.successes for b in buckets)
    print(
        f"requests={sum(b.requests for b in buckets)} finished={finished} cpu_s={cpu:.3f} "
        f"requests_per_cpu_s={n / cpu:.0f} p50_s={quantile(total, finished, 0.5):.4f} "
        f"p99_s={quantile(total, finished, 0.99):.4f}"
    )


if __name__ == "__main__":
    main()
