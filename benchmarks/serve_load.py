"""A bounded load test of `gankit serve` on loopback.

Starts `gankit serve RUN` in its own process on a free port, then runs C concurrent clients that
each send R requests one after another (GET /sample, n images, a seed per request). Twice:
  1. with a queue as long as the clients (--queue C): every request should be answered 200;
  2. with a short queue (--queue Q): the overflow must be answered 503 with Retry-After, at once,
     and nothing else may fail.
Prints, per phase: requests answered per second, images per second, p50/p99 latency of the 200s,
the 503s and any other error.

    python benchmarks/serve_load.py RUN [--clients 32] [--requests 20] [-n 16] [--small-queue 2]
"""

import argparse
import asyncio
import os
import re
import subprocess
import sys
import threading
import time

import httpx
import numpy as np


async def client(http: httpx.AsyncClient, url: str, index: int, requests: int, n: int, label: int | None, out: list):
    for r in range(requests):
        params = {"n": n, "seed": index * 1000 + r}
        if label is not None:
            params["label"] = label
        start = time.perf_counter()
        try:
            response = await http.get(url, params=params)
            out.append((response.status_code, time.perf_counter() - start, response.headers.get("retry-after")))
        except httpx.HTTPError as exc:
            out.append((type(exc).__name__, time.perf_counter() - start, None))


async def load(base: str, model: dict, clients: int, requests: int, n: int) -> tuple[list, float]:
    url = f"{base}/api/models/{model['name']}/sample"
    label = 0 if "label" in model["capabilities"] else None
    out: list = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http, url, i, requests, n, label, out) for i in range(clients)))
        return out, time.perf_counter() - start


def start_server(run: str, queue: int, max_n: int) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "gankit", "serve", run, "--port", "0", "--queue", str(queue), "--max-n", str(max_n),
           "--timeout", "120"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    found = re.search(r"at (http://\S+?)/ ", line)
    if not found:
        proc.kill()
        raise SystemExit(f"gankit serve did not start: {line!r}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # uvicorn's access log: keep the pipe from filling
    return proc, found.group(1)


def phase(title: str, run: str, queue: int, clients: int, requests: int, n: int) -> None:
    proc, base = start_server(run, queue, max(n, 1))
    try:
        model = httpx.get(f"{base}/api/models").json()["models"][0]
        httpx.get(f"{base}/api/models/{model['name']}/sample", params={"n": n, **({"label": 0} if "label" in model["capabilities"] else {})})  # warm-up
        out, wall = asyncio.run(load(base, model, clients, requests, n))
    finally:
        proc.terminate()
        proc.wait(10)
    ok = np.array([t for s, t, _ in out if s == 200])
    busy = [(t, ra) for s, t, ra in out if s == 503]
    other = [s for s, _, _ in out if s not in (200, 503)]
    print(f"{title}: --queue {queue}, {clients} clients x {requests} requests of n={n} ({model['name']}, {model['family']})")
    print(f"  answered {len(out)} in {wall:.2f} s: {len(out) / wall:.1f} requests/s, {len(ok) * n / wall:.0f} images/s")
    if len(ok):
        print(f"  200: {len(ok)}, latency p50 {np.percentile(ok, 50) * 1000:.0f} ms, p99 {np.percentile(ok, 99) * 1000:.0f} ms")
    if busy:
        times = np.array([t for t, _ in busy])
        print(f"  503 (queue full, deliberate): {len(busy)}, answered in p50 {np.percentile(times, 50) * 1000:.0f} ms, "
              f"Retry-After {sorted({ra for _, ra in busy})}")
    else:
        print("  503: 0")
    print(f"  other errors: {len(other)}" + (f" {sorted(set(map(str, other)))}" if other else ""))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("-n", type=int, default=16)
    p.add_argument("--small-queue", type=int, default=2)
    args = p.parse_args()
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs")
    phase("queue for every client", args.run, args.clients, args.clients, args.requests, args.n)
    phase("short queue", args.run, args.small_queue, args.clients, args.requests, args.n)


if __name__ == "__main__":
    main()
