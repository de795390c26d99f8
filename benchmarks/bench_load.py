"""Load test of the live service: throughput and latency of recommendations next to /health.

``python benchmarks/bench_load.py [--artifacts artifacts] [--duration 60] [--rate 100] [--quick]``

The server is started as deployed — ``ganxun serve`` (uvicorn, one worker) in a subprocess on a
free port — and an org key is made with ``ganxun keys add``. Before measuring, it waits on the
server's structured readiness, ``GET /ready``: first for a 200 (a bundle is live), then — unless
``--no-precompute`` — for ``default_lists.complete`` (every cadre's default list ready, whether the
bundle brought them or the service computes them), printing the progress ``done / total`` as it
goes and failing with the last status and the server log's tail when the lists stop progressing
or ``--ready-timeout`` passes. The load generator runs in this process (a separate one from the
server): a minimal HTTP/1.1 keep-alive client on asyncio, so that the generator costs far less
CPU per request than the server and the two cores measure the server. In one run:

1. **throughput** (closed loop): ``--connections`` connections each send back-to-back requests for
   ``--throughput-seconds``, first ``GET /health``, then ``POST /v1/cadres/{id}/recommendations``
   (``{"k": 10}``, random cadres the bundle knows): requests/s of each and their ratio;
2. **fixed rate** (open loop): recommendations at ``--rate`` req/s and ``/health`` at
   ``--health-rate`` req/s together for ``--duration`` s. Each request has a scheduled send time
   and its latency runs from that time to the end of the answer, so a stalled server is charged for
   the requests that queued behind it (no coordinated omission). p50 / p99 / max, errors
   (non-2xx, connection failures, answers later than ``--timeout``) and the achieved rate.

Each answer writes an audit row; by default the server uses the artifacts folder's own SQLite store
(as deployed), so the audit log grows by one row per recommendation. Writes
``benchmarks/results/load.json`` and prints Markdown tables. Done when (issue 5; thresholds in
``benchmarks/targets.py``): recommendation throughput ≥ 50% of /health's, p99 ≤ 25 ms at
100 req/s, zero errors in 60 s — on a city bundle (``make demo`` builds one in ``artifacts/``).

``--quick`` runs the same steps for a few seconds each at a low rate on a *copy* of the newest
bundle of ``--artifacts`` (default: the tiny city, generated and trained here), so keys and audit
rows never reach the original store; its figures are not comparable with the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import benchlib
import targets

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
#: Quick mode: seconds per phase, rates and connections (the same steps, briefly).
QUICK = {
    "duration": 3.0,
    "rate": 20.0,
    "health_rate": 5.0,
    "throughput_seconds": 2.0,
    "connections": 4,
    "warmup": 1.0,
}
#: Figures every run promises (and ``lists_complete_after_s`` unless ``--no-precompute``).
FIGURES = (
    "ready_s",
    "server_rss_mib_ready",
    "throughput.ratio",
    *(f"throughput.{e}.{m}" for e in ("health", "recommendations") for m in ("rps", "p99_ms")),
    *(
        f"fixed_rate.{e}.{m}"
        for e in ("health", "recommendations")
        for m in ("rps", "p50_ms", "p99_ms", "max_ms", "errors")
    ),
    "fixed_rate.server_cpu_share",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """``ganxun serve`` in a subprocess; stopped with SIGTERM (uvicorn's graceful shutdown)."""

    def __init__(self, artifacts: Path, port: int, log: Path, precompute: bool = True):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        env["GANXUN_PRECOMPUTE_LISTS"] = "true" if precompute else "false"
        self.log = log.open("w")
        cmd = [str(BIN / "ganxun"), "serve", "--artifacts", str(artifacts), "--port", str(port)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.url = f"http://127.0.0.1:{port}"

    def status(self) -> tuple[int, dict | None]:
        """``GET /ready``: (HTTP status, JSON body); (0, None) while nothing answers."""
        try:
            with urllib.request.urlopen(self.url + "/ready", timeout=2) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:  # 503 while loading: still a structured answer
            try:
                return err.code, json.loads(err.read())
            except ValueError:
                return err.code, None
        except (OSError, ValueError):
            return 0, None

    def _alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"server exited with {self.proc.returncode}\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log (to show why it is not ready)."""
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace").splitlines()[-lines:]
        return f"server log ({self.log.name}), last {len(text)} lines:\n" + "\n".join(text)

    def wait_ready(self, timeout: float = 300) -> tuple[float, dict]:
        """Wait until ``/ready`` answers 200; (seconds waited, its JSON)."""
        start = time.perf_counter()
        last: tuple[int, dict | None] = (0, None)
        while time.perf_counter() - start < timeout:
            self._alive()
            last = self.status()
            if last[0] == 200:
                return time.perf_counter() - start, last[1] or {}
            time.sleep(0.5)
        raise TimeoutError(
            f"server not ready after {timeout} s; last /ready: {last}\n{self.log_tail()}"
        )

    def wait_lists(self, timeout: float = 900, stall: float = 180, every: float = 10) -> float:
        """Wait for ``/ready``'s ``default_lists.complete``; seconds waited.

        Prints ``done / total`` every ``every`` seconds. Fails when the server does not report
        the lists, when they will never complete (not precomputed and not in the bundle), when
        ``done`` has not moved for ``stall`` seconds, or after ``timeout`` seconds.
        """
        start = last_move = last_print = time.perf_counter()
        done = -1
        while True:
            self._alive()
            code, body = self.status()
            lists = (body or {}).get("default_lists")
            if code != 200 or lists is None:
                raise RuntimeError(
                    f"/ready answered {code} {body} without default_lists: a server older than "
                    f"this benchmark?\n{self.log_tail()}"
                )
            now = time.perf_counter()
            if lists["complete"]:
                print(f"default lists complete: {lists['done']:,} / {lists['total']:,}", flush=True)
                return now - start
            if not lists["precompute"]:
                raise RuntimeError(
                    f"default lists incomplete ({lists['done']:,} / {lists['total']:,}) and the "
                    "server does not precompute them; use --no-precompute to measure without them"
                )
            if lists["done"] != done:
                done, last_move = lists["done"], now
            if now - last_print >= every:
                print(
                    f"waiting for default lists: {lists['done']:,} / {lists['total']:,} "
                    f"({now - start:.0f} s)",
                    flush=True,
                )
                last_print = now
            if now - last_move > stall or now - start > timeout:
                why = f"no progress for {stall:.0f} s" if now - last_move > stall else "timeout"
                raise TimeoutError(
                    f"default lists incomplete after {now - start:.0f} s ({why}): "
                    f"{lists['done']:,} / {lists['total']:,}\n{self.log_tail()}"
                )
            time.sleep(0.5)

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.log.close()


def make_key(artifacts: Path) -> str:
    out = subprocess.run(
        [str(BIN / "ganxun"), "keys", "add", "--artifacts", str(artifacts), "--role", "org"]
        + ["--note", "bench_load"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.strip().splitlines()[-1]


def known_cadres(artifacts: Path) -> list[str]:
    """Cadre ids of the newest bundle (its catalog), i.e. ids the server answers for."""
    import joblib

    from ganxun.training.bundle import newest_bundle

    bundle = newest_bundle(artifacts)
    if bundle is None:
        raise SystemExit(f"no bundle under {artifacts}; run ganxun train first")
    return [str(c) for c in joblib.load(bundle / "catalog.joblib").cadres.ids_]


# ---------------------------------------------------------------- a minimal HTTP/1.1 client


class Connection:
    """One keep-alive HTTP/1.1 connection (answers with Content-Length, as uvicorn sends JSON)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
                elif name == b"transfer-encoding":
                    raise ValueError("chunked answers are not supported by this client")
            body = await self.reader.readexactly(length) if length else b""
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Pool:
    """Idle connections for the open-loop phase (a new one is opened when none is idle).

    Like any HTTP client pool: a connection idle for longer than ``max_idle`` is dropped
    (uvicorn closes keep-alive connections after 5 s), and a request on a reused connection that
    the server closed before answering anything is sent again once on a new connection.
    """

    def __init__(self, host: str, port: int, max_idle: float = 4.0):
        self.host, self.port, self.max_idle = host, port, max_idle
        self.idle: list[tuple[Connection, float]] = []
        self.opened = 0
        self.resent = 0

    def _new(self) -> Connection:
        self.opened += 1
        return Connection(self.host, self.port)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        conn, now = None, time.monotonic()
        while self.idle:
            candidate, last = self.idle.pop()
            if now - last < self.max_idle:
                conn = candidate
                break
            candidate.close()
        reused = conn is not None
        conn = conn or self._new()
        try:
            status, body = await conn.request(raw)
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as err:
            if not reused or getattr(err, "partial", b""):
                raise
            self.resent += 1
            conn = self._new()
            status, body = await conn.request(raw)
        self.idle.append((conn, time.monotonic()))
        return status, body

    def close(self) -> None:
        for c, _ in self.idle:
            c.close()


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


def post(path: str, body: dict, key: str) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nX-API-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


@dataclass
class Tally:
    """Latencies (ms) of the successful answers and the errors, for one endpoint."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    sent: int = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def summary(self, seconds: float) -> dict:
        lat = sorted(self.latencies)
        n_err = sum(self.errors.values())

        def pct(q: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(q * len(lat)))], 2) if lat else None

        return {
            "requests": self.sent,
            "ok": len(lat),
            "errors": n_err,
            "error_kinds": self.errors,
            "seconds": round(seconds, 2),
            "rps": round(len(lat) / seconds, 1) if seconds else None,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": round(lat[-1], 2) if lat else None,
            "mean_ms": round(statistics.fmean(lat), 2) if lat else None,
        }


async def send(pool_or_conn, raw: bytes, tally: Tally, start: float, timeout: float) -> None:
    tally.sent += 1
    try:
        status, _ = await asyncio.wait_for(pool_or_conn.request(raw), timeout)
    except TimeoutError:
        tally.error("timeout")
        return
    except (OSError, asyncio.IncompleteReadError, ValueError) as err:
        tally.error(type(err).__name__)
        return
    if 200 <= status < 300:
        tally.latencies.append(1000 * (time.perf_counter() - start))
    else:
        tally.error(f"http {status}")


# ---------------------------------------------------------------- the two phases


async def closed_loop(
    host: str, port: int, make: callable, connections: int, seconds: float, timeout: float
) -> dict:
    """``connections`` workers, each sending the next request when the previous one is answered."""
    tally = Tally()
    stop = time.perf_counter() + seconds
    conns = [Connection(host, port) for _ in range(connections)]

    async def worker(conn: Connection) -> None:
        while time.perf_counter() < stop:
            await send(conn, make(), tally, time.perf_counter(), timeout)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    return tally.summary(elapsed)


async def open_loop(
    host: str, port: int, streams: dict[str, tuple[float, callable]], seconds: float, timeout: float
) -> dict:
    """Requests of each stream at fixed times (rate per second); latency from the scheduled time."""
    pool = Pool(host, port)
    tallies = {name: Tally() for name in streams}
    tasks: set[asyncio.Task] = set()
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.2
    perf0 = time.perf_counter() + (t0 - loop.time())

    async def schedule(name: str, rate: float, make: callable) -> None:
        n = int(rate * seconds)
        for i in range(n):
            at = t0 + i / rate
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            planned = perf0 + i / rate  # the same instant on the perf_counter clock
            task = asyncio.create_task(send(pool, make(), tallies[name], planned, timeout))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    await asyncio.gather(*(schedule(n, r, m) for n, (r, m) in streams.items()))
    while tasks:
        await asyncio.gather(*list(tasks))
    elapsed = time.perf_counter() - perf0
    pool.close()
    out = {name: tallies[name].summary(elapsed) for name in streams}
    for name, (rate, _) in streams.items():
        out[name]["target_rps"] = rate
    out["connections_opened"] = pool.opened
    out["resent_on_closed_keepalive"] = pool.resent
    return out


def run(args: argparse.Namespace) -> dict:
    """Start the server on ``args.artifacts``, wait for it, measure; the figures."""
    artifacts = Path(args.artifacts).resolve()
    cadres = known_cadres(artifacts)
    rng = random.Random(args.seed)
    key = make_key(artifacts)
    port = args.port or free_port()
    log = Path(args.server_log)
    print(f"starting ganxun serve on port {port} ({len(cadres):,} cadres)…", flush=True)
    server = Server(artifacts, port, log, precompute=not args.no_precompute)
    result: dict = {
        "artifacts": str(artifacts),
        "cadres": len(cadres),
        "load_before": os.getloadavg(),
        "cpus": os.cpu_count(),
        "precompute_lists": not args.no_precompute,
        "server": "ganxun serve: uvicorn, 1 worker (uvloop + httptools when installed)",
        "client": "asyncio HTTP/1.1 keep-alive, in a separate process",
    }
    try:
        ready_s, status = server.wait_ready(args.ready_timeout)
        result["ready_s"] = round(ready_s, 1)
        result["ready_status"] = status
        print(f"ready after {ready_s:.1f} s: {json.dumps(status)}", flush=True)
        if not args.no_precompute:  # measure the service as it runs once its lists are built
            waited = server.wait_lists(args.ready_timeout)
            result["lists_complete_after_s"] = round(waited, 1)
        result["server_rss_mib_ready"] = round(rss_mib(server.proc.pid), 1)
        host = "127.0.0.1"

        def health() -> bytes:
            return get("/health")

        def recommend() -> bytes:
            cadre = rng.choice(cadres)
            return post(f"/v1/cadres/{cadre}/recommendations", {"k": args.k}, key)

        async def main() -> None:
            # warm-up: first calls build lazy caches; not measured
            await closed_loop(host, port, recommend, 2, args.warmup, args.timeout)
            await closed_loop(host, port, health, 2, min(args.warmup, 2), args.timeout)
            phases = {}
            for name, make in (("health", health), ("recommendations", recommend)):
                print(f"closed loop on {name} for {args.throughput_seconds:g} s…", flush=True)
                cpu0, own0 = cpu_seconds(server.proc.pid), time.process_time()
                r = await closed_loop(
                    host, port, make, args.connections, args.throughput_seconds, args.timeout
                )
                r["server_cpu_share"] = round(
                    (cpu_seconds(server.proc.pid) - cpu0) / r["seconds"], 2
                )
                r["client_cpu_share"] = round((time.process_time() - own0) / r["seconds"], 2)
                phases[name] = r
            phases["ratio"] = round(phases["recommendations"]["rps"] / phases["health"]["rps"], 3)
            result["throughput"] = {"connections": args.connections, **phases}
            cpu0, own0 = cpu_seconds(server.proc.pid), time.process_time()
            print(f"open loop at {args.rate:g} req/s for {args.duration:g} s…", flush=True)
            fixed = await open_loop(
                host,
                port,
                {"recommendations": (args.rate, recommend), "health": (args.health_rate, health)},
                args.duration,
                args.timeout,
            )
            fixed["server_cpu_share"] = round(
                (cpu_seconds(server.proc.pid) - cpu0) / args.duration, 2
            )
            fixed["client_cpu_share"] = round((time.process_time() - own0) / args.duration, 2)
            result["fixed_rate"] = {"duration_s": args.duration, **fixed}

        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        runner(main())
        result["server_rss_mib_end"] = round(rss_mib(server.proc.pid), 1)
    finally:
        result["server_exit"] = server.stop()
    result["load_after"] = os.getloadavg()
    thr, fx = result["throughput"], result["fixed_rate"]["recommendations"]
    ratio, p99 = targets.BY_KEY["load.throughput_ratio"], targets.BY_KEY["load.p99_ms"]
    result["targets"] = {
        f"throughput_ratio {ratio.op} {ratio.threshold:g}": ratio.met(thr["ratio"]),
        f"p99 {p99.op} {p99.threshold:g} ms at {args.rate:g} req/s": (
            fx["p99_ms"] is not None and p99.met(fx["p99_ms"])
        ),
        "zero_errors": fx["errors"] == 0 and result["fixed_rate"]["health"]["errors"] == 0,
    }
    return result


def table(result: dict) -> str:
    thr, fx = result["throughput"], result["fixed_rate"]
    rows = [
        "| phase | endpoint | req/s | p50 ms | p99 ms | max ms | errors | server CPU "
        "| client CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("health", "recommendations"):
        r = thr[name]
        rows.append(
            f"| closed loop, {thr['connections']} conns | {name} | {r['rps']} | {r['p50_ms']} | "
            f"{r['p99_ms']} | {r['max_ms']} | {r['errors']} | {r['server_cpu_share']} | "
            f"{r['client_cpu_share']} |"
        )
    for name in ("recommendations", "health"):
        r = fx[name]
        rows.append(
            f"| open loop, {r['target_rps']:g} req/s × {fx['duration_s']:g} s | {name} "
            f"| {r['rps']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['errors']} | "
            f"{fx['server_cpu_share']} | {fx['client_cpu_share']} |"
        )
    rows.append("")
    rows.append(f"recommendation / health throughput: **{thr['ratio']:.2f}**; targets: ")
    rows[-1] += ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in result["targets"].items())
    la, lb = result["load_before"], result["load_after"]
    rows.append(f"load average before {la[0]:.2f}, after {lb[0]:.2f} ({result['cpus']} CPUs)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments, run, write ``load.json`` and print the tables; the result."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--artifacts",
        help="artifacts folder with a city bundle (default: artifacts; quick: the tiny city)",
    )
    p.add_argument("--duration", type=float, default=60, help="fixed-rate phase, seconds")
    p.add_argument("--rate", type=float, default=100, help="recommendations per second")
    p.add_argument("--health-rate", type=float, default=20, help="/health per second alongside")
    p.add_argument("--throughput-seconds", type=float, default=15)
    p.add_argument("--connections", type=int, default=32, help="closed-loop connections")
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--timeout", type=float, default=5, help="an answer later than this is an error")
    p.add_argument(
        "--ready-timeout", type=float, default=900, help="longest wait for /ready and the lists"
    )
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--port", type=int, default=0, help="0: a free port")
    p.add_argument("--out", default=str(benchlib.RESULTS))
    p.add_argument(
        "--no-precompute",
        action="store_true",
        help="serve with GANXUN_PRECOMPUTE_LISTS=false (every list computed per request)",
    )
    p.add_argument(
        "--server-log",
        default=str(Path(tempfile.gettempdir()) / "ganxun_bench_load_server.log"),
        help="where the server's output goes (quick: a temporary folder)",
    )
    p.add_argument("--quick", action="store_true", help="a few seconds per phase, on a copy")
    args = p.parse_args(argv)
    started = time.perf_counter()
    if not args.quick:
        args.artifacts = args.artifacts or "artifacts"
        result = run(args)
    else:
        for name, value in QUICK.items():
            setattr(args, name, value)
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(args.artifacts) if args.artifacts else benchlib.tiny_artifacts(Path(tmp))
            args.artifacts = benchlib.copy_newest_bundle(source, Path(tmp) / "load-artifacts")
            args.server_log = str(Path(tmp) / "server.log")
            result = run(args)
    benchlib.finish(result, args.quick, started)
    benchlib.write(Path(args.out), "load", result)
    print(table(result))
    if args.quick:
        lists = ("lists_complete_after_s",) if result["precompute_lists"] else ()
        benchlib.check_figures(result, (*FIGURES, *lists), "load")
    return result


if __name__ == "__main__":
    outcome = main()
    sys.exit(0 if outcome["quick"] or all(outcome["targets"].values()) else 1)
