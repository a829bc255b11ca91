"""`gankit serve RUN [RUN ...]`: an HTTP API and a web page over trained runs (the `[serve]` extra)."""

from __future__ import annotations

from ..model import load
from ..serve import Limits, check_access, create_app, listen, require_packages, run_names, run_server


def register(sub):
    p = sub.add_parser("serve", help="an HTTP API and a web page over trained runs (loopback unless --token)",
                       description="Serves each RUN (a run directory or checkpoint; NAME=RUN names it) at "
                                   "http://HOST:PORT/: the page at /, the API under /api, its docs at /docs.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directory or checkpoint, or NAME=RUN")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other needs --token)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", help="required on every request (Authorization: Bearer TOKEN, or /?token=TOKEN in a browser)")
    d = Limits()
    p.add_argument("--max-n", type=int, default=d.max_n, help=f"images per request (default {d.max_n})")
    p.add_argument("--max-upload-bytes", type=int, default=d.max_upload_bytes, help=f"request body size (default {d.max_upload_bytes:,})")
    p.add_argument("--max-pixels", type=int, default=d.max_pixels, help=f"pixels of an uploaded image, from its header; upscale: of the output (default {d.max_pixels:,})")
    p.add_argument("--timeout", type=float, default=d.timeout_s, help=f"seconds a request may wait and run (default {d.timeout_s:g})")
    p.add_argument("--queue", type=int, default=d.queue_size, help=f"requests waiting per model; more get 503 (default {d.queue_size})")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.set_defaults(run=run)


def run(args) -> int:
    require_packages()
    limits = Limits(args.max_n, args.max_upload_bytes, args.max_pixels, args.timeout, args.queue)
    check_access(args.host, args.token)
    names = run_names(args.runs)
    sock = listen(args.host, args.port)  # before loading: a port in use fails at once
    try:
        models = {name: load(path, device=args.device) for name, path in names}
        app = create_app(models, limits, args.token)
    except BaseException:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    needs = "; every request needs the token: in a browser open /?token=TOKEN once" if args.token else ""
    print(f"serving {', '.join(models)} at http://{shown}:{port}/ (API docs at /docs{needs}; Ctrl-C stops)", flush=True)
    run_server(app, sock)
    return 0
