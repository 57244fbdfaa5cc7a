"""The HTTP bench's server process: the real app or the bare baseline under uvicorn, on a socket the bench opened.

`python -m duban.bench.server engine|bare (--fd N | --reuse-port PORT) --url URL --at ISO --tz ZONE
[--unit-id ID] [--data-dir DIR] [--ready FILE]`. The bench binds 127.0.0.1 on an ephemeral port and
hands the listening socket down, so the port is known before the server starts and no other process
can take it in between. Both sides run under the same uvicorn settings. For N workers the bench
starts N of these on the one socket, as `duban serve --workers N` (uvicorn's worker processes)
shares one socket among its workers; or, with `--reuse-port`, each on a socket of its own bound to
the same port with SO_REUSEPORT (the kernel spreads new connections over them, as gunicorn's
`--reuse-port` does). Each writes `--ready` once its app is built, so the load starts when all of
them accept.
"""

from __future__ import annotations

import argparse
import socket
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn


def _settings(args: argparse.Namespace) -> Any:
    from duban.settings import Settings

    # No .env: the bench's database, zone and clock, not a deployment's; both sides get the same thread pool.
    return Settings(
        _env_file=None,
        database_url=args.url,
        timezone=args.tz,  # type: ignore[call-arg]
        data_dir=args.data_dir,
        local=True,
    )


def _engine_app(args: argparse.Namespace) -> Any:
    from duban.api.app import create_app
    from duban.bootstrap import build_runtime

    settings = _settings(args)
    return create_app(settings, runtime=build_runtime(settings, now=datetime.fromisoformat(args.at)))


def _bare_app(args: argparse.Namespace) -> Any:
    from duban.bench.bare_route import bare_app

    return bare_app(args.url, args.unit_id, ZoneInfo(args.tz), _settings(args).threads)


def uvicorn_config(app: Any) -> uvicorn.Config:
    """One configuration for both sides: uvicorn's defaults, without the access log."""
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")


def reuse_port_socket() -> socket.socket:
    """A TCP socket that may share its port with others of the same user (SO_REUSEPORT), not yet bound."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _reuse_port(port: int) -> socket.socket:
    sock = reuse_port_socket()
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    return sock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m duban.bench.server")
    parser.add_argument("kind", choices=("engine", "bare"))
    listen = parser.add_mutually_exclusive_group(required=True)
    listen.add_argument("--fd", type=int, help="the listening socket, inherited")
    listen.add_argument("--reuse-port", type=int, help="listen on 127.0.0.1:PORT with SO_REUSEPORT")
    parser.add_argument("--url", required=True)
    parser.add_argument("--at", required=True, help="the FixedClock's instant, ISO-8601 with its offset")
    parser.add_argument("--tz", required=True, help="the zone instants are shown in")
    parser.add_argument("--unit-id", type=int, default=0, help="bare: the unit whose to-do it serves")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--ready", type=Path, help="a file written once the app is built")
    args = parser.parse_args(argv)
    app = _engine_app(args) if args.kind == "engine" else _bare_app(args)
    sock = socket.socket(fileno=args.fd) if args.fd is not None else _reuse_port(args.reuse_port)
    if args.ready is not None:
        args.ready.write_text("ready\n")
    uvicorn.Server(uvicorn_config(app)).run(sockets=[sock])


if __name__ == "__main__":
    main()
