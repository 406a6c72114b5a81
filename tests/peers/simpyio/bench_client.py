"""simpy.io JSON-RPC load client for `tidepool bench rpc` (the Python baseline).

Usage: python bench_client.py PORT WINDOW SECONDS
Keeps WINDOW `echo` calls outstanding against 127.0.0.1:PORT for SECONDS of wall-clock
time and prints one line: `calls <n> seconds <elapsed>`.
"""
import sys
import time
from simpy.io import select as backend
from service import JSONRPC, SafePacketUTF8, ClientService


def worker(remote, deadline, count):
    while time.monotonic() < deadline:
        yield remote.echo(1)
        count[0] += 1


def run(env, port, window, seconds, result):
    sock = backend.TCPSocket.connection(env, ("127.0.0.1", port))
    rpc = JSONRPC(SafePacketUTF8(sock), ClientService().rpc)
    remote = rpc.remote
    yield remote.echo(0)                      # connected and warm
    count = [0]
    start = time.monotonic()
    workers = [env.process(worker(remote, start + seconds, count)) for _ in range(window)]
    yield env.all_of(workers)
    result.append((count[0], time.monotonic() - start))
    rpc.close()


def main():
    port, window, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    env = backend.Environment()
    result = []
    proc = env.process(run(env, port, window, seconds, result))
    env.run(until=proc)
    calls, elapsed = result[0]
    print("calls %d seconds %.6f" % (calls, elapsed), flush=True)


if __name__ == "__main__":
    main()
