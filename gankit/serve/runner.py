"""Running the app: the checks made before anything loads (packages, address, token, port) and uvicorn."""

from __future__ import annotations

import importlib.util
import ipaddress
import re
import socket
import threading
from pathlib import Path

from ..errors import UserError

# import name -> the distribution that provides it
PACKAGES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "python_multipart": "python-multipart"}
TOKEN_MIN_LENGTH = 16
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def require_packages() -> None:
    missing = [dist for module, dist in PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise UserError(f"gankit serve needs {', '.join(missing)}: pip install -e '.[serve]'")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def check_access(host: str, token: str | None) -> None:
    """Loopback is open to this machine's users; any other address needs a token."""
    if token is not None and (len(token) < TOKEN_MIN_LENGTH or not re.fullmatch(r"[A-Za-z0-9._~-]+", token)):
        raise UserError(f"--token: give at least {TOKEN_MIN_LENGTH} characters of A-Z a-z 0-9 . _ ~ - "
                        "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')")
    if token is None and not is_loopback(host):
        raise UserError(f"--host {host}: serving on an address other than loopback (127.0.0.1, ::1, localhost) "
                        "needs --token TOKEN, which every request must then carry")


def run_names(specs: list[str]) -> list[tuple[str, str]]:
    """RUN or NAME=RUN -> (name, path); a name defaults to the run directory's name."""
    pairs = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            p = Path(spec)
            run_dir = p.parent.parent if p.suffix == ".safetensors" and p.parent.name == "checkpoints" else p
            name, path = (run_dir.resolve().name if run_dir.name in ("", ".", "..") else run_dir.name), spec
        if not NAME.match(name):
            raise UserError(f"run '{spec}': model name '{name}' must be letters, digits, '.', '_' or '-' (give NAME=RUN)")
        pairs.append((name, path))
    names = [n for n, _ in pairs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"two runs are named '{dupes[0]}': name them apart with NAME=RUN")
    return pairs


def listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket: a port in use is a clear error before any model loads."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port must be 0..65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UserError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UserError(f"--host {host} --port {port}: cannot listen there ({exc.strerror})") from None
    return sock


def _server(app, log_level: str):
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5))


def run_server(app, sock: socket.socket, log_level: str = "info") -> None:
    """Serve until interrupted (Ctrl-C)."""
    _server(app, log_level).run(sockets=[sock])


class BackgroundServer:
    """uvicorn in a thread on a free loopback port, for tests and the load benchmark:
    `with BackgroundServer(app) as url: ...`."""

    def __init__(self, app, host: str = "127.0.0.1", log_level: str = "warning"):
        self.sock = listen(host, 0)
        port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{port}"
        self.server = _server(app, log_level)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in range(500):  # up to 10 s for uvicorn to start
            if self.server.started:
                return self.url
            self.thread.join(0.02)
        raise RuntimeError("uvicorn did not start within 10 s")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
