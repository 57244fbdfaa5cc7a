"""The HTTP bench's load: concurrent keep-alive clients sending one GET until a fixed number have been answered.

The clients speak HTTP/1.1 on asyncio streams with the request bytes built once. A general client
such as httpx spends a few hundred microseconds of Python per request; on a 2-core machine shared
with the server that would make the load generator the bottleneck of the faster side and flatter
the slower one.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Load:
    """What one run saw: each request's latency (seconds), the statuses, and the wall time of the run."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    def summary(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 4),
            "throughput_rps": round(self.requests / self.seconds, 1),
            "p50_ms": self.percentile_ms(0.50),
            "p95_ms": self.percentile_ms(0.95),
            "p99_ms": self.percentile_ms(0.99),
            "max_ms": round(max(self.latencies) * 1000, 3),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


def request_bytes(host: str, port: int, target: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host}:{port}",
        *(f"{k}: {v}" for k, v in headers.items()),
        "",
        "",
    ]
    return "\r\n".join(lines).encode("latin-1")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, await reader.readexactly(int(value))
    raise ValueError(f"a response without Content-Length: {head[:200]!r}")


async def _run(host: str, port: int, request: bytes, total: int, clients: int) -> Load:
    load = Load()
    left = total

    async def client() -> None:
        nonlocal left
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while left > 0:
                left -= 1
                start = time.perf_counter()
                writer.write(request)
                status, _ = await _read_response(reader)
                load.latencies.append(time.perf_counter() - start)
                load.statuses[status] += 1
        finally:
            writer.close()
            await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    load.seconds = time.perf_counter() - start
    return load


def run_load(host: str, port: int, target: str, headers: dict[str, str], total: int, clients: int) -> Load:
    """`clients` connections sending GET `target` until `total` responses have come back."""
    return asyncio.run(_run(host, port, request_bytes(host, port, target, headers), total, clients))


def fetch(
    host: str, port: int, target: str, headers: dict[str, str], timeout: float = 30.0
) -> tuple[int, bytes]:
    """One GET on a fresh connection: its status and body (TimeoutError after `timeout` seconds)."""

    async def once() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request_bytes(host, port, target, headers))
            return await _read_response(reader)
        finally:
            writer.close()
            await writer.wait_closed()

    return asyncio.run(asyncio.wait_for(once(), timeout))
