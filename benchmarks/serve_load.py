"""Load on ``sgtr serve`` over loopback: many requests at once, good word crops mixed with hostile uploads.

Starts ``sgtr serve`` on a free port of 127.0.0.1 in a child process, sends N requests (default 500) from a pool of
C threads (default 8), every fifth one hostile (not an image, a truncated PNG, an empty form, a file over the size
limit, a decompression bomb), the rest the bundled ``samples/*.png`` crops in turn. Every good request must come
back 200 with the sample's label (case-insensitively); every hostile one 4xx. The server's resident memory
(VmRSS) is read after the first W requests (default 100) and at the end. Prints a Markdown table and exits 1 when
a good request failed or a hostile one was not refused with a 4xx. The server is stopped at the end.

    python benchmarks/serve_load.py [--requests 500] [--concurrency 8] [--warmup 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
HOST = "127.0.0.1"  # loopback only: the load test never listens on another address
MAX_FILE_MB = 1  # the server's upload limit here; the oversized upload is just over it
HOSTILE_KINDS = ("not-an-image", "truncated", "empty-form", "oversized", "bomb")


@dataclass
class Outcome:
    """One request: what was sent, what came back and how long it took."""

    kind: str  # "good" or one of HOSTILE_KINDS
    status: int
    seconds: float
    ok: bool
    detail: str


@dataclass
class LoadReport:
    """All outcomes of a run, and the server's VmRSS in MiB after the first ``warmup`` requests and at the end."""

    outcomes: list[Outcome] = field(default_factory=list)
    rss_after_warmup_mb: float = 0.0
    rss_end_mb: float = 0.0

    @property
    def good_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == "good" and not o.ok]

    @property
    def hostile(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind != "good"]

    @property
    def hostile_refused(self) -> list[Outcome]:
        return [o for o in self.hostile if o.ok]

    def latency_ms(self, quantile: float) -> float:
        """Nearest-rank quantile of all requests' latencies, in milliseconds."""
        ordered = sorted(o.seconds for o in self.outcomes)
        rank = min(len(ordered) - 1, max(0, round(quantile * len(ordered)) - 1))
        return ordered[rank] * 1000

    def table(self) -> str:
        rows = [
            ("requests", f"{len(self.outcomes)} ({len(self.outcomes) - len(self.hostile)} good, "
                         f"{len(self.hostile)} hostile)"),
            ("failed good requests", str(len(self.good_failures))),
            ("hostile answered 4xx", f"{len(self.hostile_refused)} of {len(self.hostile)}"),
            ("latency p50 / p95", f"{self.latency_ms(0.5):.0f} ms / {self.latency_ms(0.95):.0f} ms"),
            ("server RSS after warm-up / at the end",
             f"{self.rss_after_warmup_mb:.1f} MiB / {self.rss_end_mb:.1f} MiB "
             f"({self.rss_end_mb - self.rss_after_warmup_mb:+.1f})"),
        ]
        return "\n".join(["| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def multipart(files: list[tuple[str, bytes]], fields: dict[str, str] | None = None) -> tuple[bytes, str]:
    """A multipart/form-data body holding ``files`` under the form name ``files``, and its content type."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in (fields or {}).items()]
    for name, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def hostile_bodies(sample: bytes) -> dict[str, tuple[bytes, str]]:
    """One request body per hostile kind, built once."""
    bomb = io.BytesIO()
    # 400 megapixels of one colour, ten times the server's default pixel limit: a few tens of KiB of PNG.
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")
    return {
        "not-an-image": multipart([("notes.txt", b"hello, I am text, not a picture")]),
        "truncated": multipart([("cut.png", sample[: len(sample) // 3])]),
        "empty-form": multipart([], {"kind": "auto"}),
        "oversized": multipart([("huge.png", b"\x89PNG\r\n\x1a\n" + bytes(MAX_FILE_MB * 1024 * 1024))]),
        "bomb": multipart([("bomb.png", bomb.getvalue())]),
    }


def post(url: str, body: bytes, content_type: str, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """The process's resident set size (VmRSS in /proc/PID/status) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")


class Server:
    """``sgtr serve`` in a child process on 127.0.0.1; a context manager that waits for /health and stops it."""

    def __init__(self, threads: int = 1, start_timeout: float = 120):
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.start_timeout = start_timeout
        self.log = tempfile.TemporaryFile()
        self.command = [sys.executable, "-m", "sgtr.cli.main", "serve", "--host", HOST, "--port", str(self.port),
                        "--threads", str(threads), "--max-file-mb", str(MAX_FILE_MB)]

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=5) as r:
                    if json.load(r)["status"] == "ok":
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"sgtr serve did not answer /health within {self.start_timeout:.0f} s:\n"
                                   + self.output())
            time.sleep(0.5)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def run_load(server: Server, requests: int = 500, concurrency: int = 8, warmup: int = 100,
             timeout: float = 120) -> LoadReport:
    """Send ``requests`` requests, ``concurrency`` at a time; every fifth hostile, the rest the samples in turn."""
    labels = dict(line.split("\t") for line in (SAMPLES / "labels.tsv").read_text().splitlines() if line)
    crops = {name: (SAMPLES / name).read_bytes() for name in sorted(labels)}
    goods = [(name, multipart([(name, data)])) for name, data in crops.items()]
    hostile = hostile_bodies(next(iter(crops.values())))
    plan = []
    for i in range(requests):
        if i % 5 == 4:
            plan.append((HOSTILE_KINDS[(i // 5) % len(HOSTILE_KINDS)], None))
        else:
            plan.append(("good", goods[(i - i // 5) % len(goods)][0]))
    bodies = dict(goods)

    def one(item: tuple[str, str | None]) -> Outcome:
        kind, name = item
        body, content_type = bodies[name] if kind == "good" else hostile[kind]
        start = time.perf_counter()
        try:
            status, raw = post(f"{server.base}/read", body, content_type, timeout)
        except OSError as exc:  # refused, reset or timed out: a failure of that request, not of the run
            return Outcome(kind, 0, time.perf_counter() - start, False, f"{type(exc).__name__}: {exc}")
        seconds = time.perf_counter() - start
        try:
            payload = json.loads(raw)
        except ValueError:
            return Outcome(kind, status, seconds, False, f"not JSON: {raw[:100]!r}")
        if kind == "good":
            text = payload["results"][0]["text"] if status == 200 else payload.get("detail", "")
            ok = status == 200 and text.lower() == labels[name].lower()
            return Outcome(kind, status, seconds, ok, f"{name}: read {text!r}, label {labels[name]!r}")
        return Outcome(kind, status, seconds, 400 <= status < 500, str(payload.get("detail")))

    report = LoadReport()
    warmup = min(warmup, requests)
    with ThreadPoolExecutor(concurrency) as pool:
        report.outcomes += pool.map(one, plan[:warmup])
        report.rss_after_warmup_mb = rss_mb(server.process.pid)
        report.outcomes += pool.map(one, plan[warmup:])
        report.rss_end_mb = rss_mb(server.process.pid)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=100, help="RSS is read after this many requests and at the end")
    parser.add_argument("--threads", type=int, default=1, help="the server's compute threads")
    args = parser.parse_args()
    start = time.perf_counter()
    with Server(threads=args.threads) as server:
        report = run_load(server, args.requests, args.concurrency, args.warmup)
    print(report.table())
    print(f"\n{args.requests} requests, {args.concurrency} at a time, in {time.perf_counter() - start:.0f} s "
          "(server start included)")
    for o in report.good_failures + [o for o in report.hostile if not o.ok]:
        print(f"FAILED {o.kind}: HTTP {o.status}: {o.detail}", file=sys.stderr)
    return 1 if report.good_failures or len(report.hostile_refused) < len(report.hostile) else 0


if __name__ == "__main__":
    sys.exit(main())
