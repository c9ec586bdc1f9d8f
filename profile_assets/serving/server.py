"""`profile-assets serve`: the ASGI app on uvicorn, in one or more worker processes.

Several workers share one listening socket (bound before forking, as uvicorn's own
supervisor does) so both cores answer; uvicorn's `workers=` needs an import string, which
would force the --no-auth decision through the environment, so we fork ourselves.
"""

from __future__ import annotations

import os
import signal
import socket
import tempfile
from pathlib import Path

import uvicorn

#: Connections beyond this get 503 at once instead of queueing in memory (bursts stay bounded).
LIMIT_CONCURRENCY = 1024


def serve(
    host: str, port: int, *, workers: int = 1, no_auth: bool = False, directory: Path | None = None
) -> None:
    """Bind, then run `workers` uvicorn servers on the socket until interrupted."""
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="profile-assets-metrics-")
    from profile_assets.serving.http import create_app

    app = create_app(
        no_auth=no_auth, directory=directory
    )  # raises NoApiKeys before binding anything
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    children = [pid for pid in (_fork_worker(app, sock) for _ in range(workers - 1)) if pid]
    try:
        _run(app, sock)
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)


def _fork_worker(app, sock: socket.socket) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            _run(app, sock)
        finally:
            os._exit(0)
    return pid


def _run(app, sock: socket.socket) -> None:
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        limit_concurrency=LIMIT_CONCURRENCY,
        timeout_keep_alive=30,
    )
    uvicorn.Server(config).run(sockets=[sock])
