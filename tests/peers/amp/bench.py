"""Twisted AMP load client for `tidepool bench amp`.

Usage: python bench.py PORT CALLS DEPTH
Calls Sum(a, b) CALLS times on 127.0.0.1:PORT keeping DEPTH calls in flight
(1 = sequential) and prints one JSON line: calls, seconds, calls_per_s, p50_us, p99_us.
"""
import json
import sys
import time

from twisted.internet import defer, task
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols import amp

from commands import Sum


async def main(reactor, port, calls, depth):
    p = await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), amp.AMP())
    latencies = []
    issued = 0

    async def worker():
        nonlocal issued
        while issued < calls:
            issued += 1
            t0 = time.perf_counter()
            r = await p.callRemote(Sum, a=13, b=81)
            latencies.append(time.perf_counter() - t0)
            assert r["total"] == 94

    start = time.perf_counter()
    await defer.gatherResults([defer.ensureDeferred(worker()) for _ in range(depth)])
    elapsed = time.perf_counter() - start
    latencies.sort()
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e6
    print(json.dumps({"calls": calls, "seconds": elapsed, "calls_per_s": calls / elapsed,
                      "p50_us": pct(0.50), "p99_us": pct(0.99)}), flush=True)
    p.transport.loseConnection()


task.react(lambda reactor: defer.ensureDeferred(
    main(reactor, int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
