"""The HTTP API and web page over loaded runs: `create_app(models, limits, token)` gives a FastAPI app.

What a model can do is one table, `CAPABILITIES`: a name, a line for /docs and the page, and a test
of the loaded model. `/api/models` lists each model's capabilities; an endpoint refuses a model
without its capability by name. A capability with its own endpoint (score, upscale, ...) is one
table entry and one route below; one that modifies sampling (label) is one entry and a query
parameter of /sample, and the page shows its control only where the model lists it.

Every model has one worker thread with a bounded queue (worker.py): the routes check a request's
values, put the work on the queue and await it for at most `Limits.timeout_s`. Errors are JSON
`{"error": "..."}` naming the value at fault, and the server goes on to the next request.

FastAPI is imported inside `create_app`, so that gankit (and `gankit serve`'s clear error when the
`[serve]` extra is missing) works without it. No `from __future__ import annotations` here: FastAPI
reads the routes' annotations as objects.
"""

import asyncio
import base64
import contextlib
import hmac
import io
import json
import warnings
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from typing import Callable
from urllib.parse import parse_qs

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..data.files import read_image
from ..data.transform import array_to_tensor
from ..errors import UserError
from ..model import Model
from ..report.grid import image_grid, to_uint8
from ..report.latent import interpolation_grid
from ..classify import classify
from ..sr import read_rgb_or_gray, upscale_image
from ..styles import project
from ..translate import check_translator, translate_array
from ..version import __version__
from .worker import Busy, ModelWorker

TOKEN_COOKIE = "gankit_token"
SEED_MAX = 2**63 - 1  # torch.Generator.manual_seed takes 64-bit seeds


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; each is a `gankit serve` flag, named in the refusals."""

    max_n: int = 256  # images one request draws, uploads or gets back
    max_upload_bytes: int = 8 * 2**20  # a request's whole body
    max_pixels: int = 2048 * 2048  # of an uploaded image, read from its header (upscale: of the output)
    timeout_s: float = 30.0  # waiting in the queue plus the work
    queue_size: int = 8  # requests waiting per model beyond the one it works on

    def __post_init__(self):
        for flag, value, least in (("--max-n", self.max_n, 1), ("--max-upload-bytes", self.max_upload_bytes, 1024),
                                   ("--max-pixels", self.max_pixels, 64), ("--timeout", self.timeout_s, 0.01),
                                   ("--queue", self.queue_size, 1)):
            if not value >= least:
                raise UserError(f"{flag} must be at least {least}, got {value}")


@dataclass(frozen=True)
class Capability:
    name: str
    summary: str
    supports: Callable[[Model], bool]


def _draws(m: Model) -> bool:
    return getattr(m.recipe, "draws_from_noise", True)


def _translates(m: Model) -> bool:
    return bool(getattr(m.recipe, "directions", ()))


def _classifies(m: Model) -> bool:
    return hasattr(m.recipe, "class_probabilities")


def _scores(m: Model) -> bool:
    """D judges a single image alone: not a pack (PacGAN), an image with its caption or input
    (text-to-image, pix2pix), or a class (a semi-supervised D, which classifies instead)."""
    return m.is_images and m.d_pack == 1 and getattr(m.recipe, "d_scores_images", False)


CAPABILITIES = (
    Capability("sample", "draw n samples from a seed: a PNG grid, one PNG per image in JSON, or npz", _draws),
    Capability("label", "choose the class to draw (a conditional model)", lambda m: m.conditional),
    Capability("truncation", "pull w towards its mean, w_avg + psi (w - w_avg), psi in (0, 2] (StyleGAN2)", lambda m: m.has_styles),
    Capability("text", "draw images for a caption in the words the model was trained on (text-to-image)", lambda m: m.is_text),
    Capability("interpolate", "a latent walk: spherical interpolation between two seeded latents", lambda m: m.is_images and _draws(m)),
    Capability("score", "D's probability (or score) that uploaded images are real", _scores),
    Capability("upscale", "super-resolve an uploaded image of any size (SRGAN)", lambda m: hasattr(m.recipe, "upscale")),
    Capability("reconstruct", "encode and decode uploaded images, G(E(x)) (VAE-GAN)", lambda m: hasattr(m.recipe, "reconstruct")),
    Capability("translate", "translate an uploaded image of any size, a2b or b2a as the model learnt (pix2pix, CycleGAN)", _translates),
    Capability("project", "find the w whose image reproduces an uploaded target (StyleGAN2)", lambda m: m.has_styles),
    Capability("classify", "the class D gives each uploaded image and its probability (semi-supervised GAN)", _classifies),
)


class Served:
    """One loaded run behind the API: its model, worker and capabilities."""

    def __init__(self, name: str, model: Model, queue_size: int):
        self.name, self.model = name, model
        self.capabilities = tuple(c.name for c in CAPABILITIES if c.supports(model))
        self.worker = ModelWorker(name, queue_size)

    def describe(self) -> dict:
        m, cfg = self.model, self.model.config
        image = m.is_images
        info = {"name": self.name, "family": cfg.recipe, "config": cfg.name, "architecture": cfg.model.arch,
                "capabilities": list(self.capabilities),
                "image_shape": [m.sample_shape[1], m.sample_shape[2], m.sample_shape[0]] if image else None,
                "points_dim": None if image else m.sample_shape[0],
                "classes": list(range(m.num_classes)) if m.conditional else [],
                "loss": cfg.loss}
        if "score" in self.capabilities:
            info["d_output"] = "probability" if m.d_gives_probabilities else "score"
        if "upscale" in self.capabilities:
            info["scale"] = m.recipe.scale
        return info


# ---- work done on a model's worker thread -------------------------------------------------------

def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).save(buf, format="PNG")
    return buf.getvalue()


def encode(arrays: dict[str, np.ndarray], fmt: str, columns: int | None = None) -> tuple[bytes, str]:
    """Arrays in the sample contract ('images' uint8 NHWC or 'points', 'labels') -> (body, media type)."""
    if fmt == "npz":
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue(), "application/octet-stream"
    if fmt == "json":
        body = {k: v.tolist() for k, v in arrays.items() if k != "images"}
        if "images" in arrays:
            body["images"] = ["data:image/png;base64," + base64.b64encode(_png(im)).decode() for im in arrays["images"]]
        return json.dumps(body).encode(), "application/json"
    buf = io.BytesIO()
    image_grid(arrays["images"], columns).save(buf, format="PNG")
    return buf.getvalue(), "image/png"


def _decode_uploads(model: Model, uploads: list[tuple[str, bytes]]):
    c, h, _ = model.sample_shape
    images = np.stack([read_image(io.BytesIO(data), h, c, name=f"upload '{name}'") for name, data in uploads])
    return array_to_tensor(images, "uploads", h, c)


def sample_job(model: Model, n: int, seed: int, label: int | None, text: str | None, truncation: float, fmt: str):
    return encode(model.sample(n, seed=seed, label=label, text=text, truncation=truncation), fmt)


def interpolate_job(model: Model, rows: int, steps: int, seed: int, label: int | None, truncation: float, fmt: str):
    grid = interpolation_grid(model, rows, steps, seed, label, truncation=truncation)  # (rows, steps, H, W, C)
    return encode({"images": grid.reshape(-1, *grid.shape[2:])}, fmt, columns=steps)


def score_job(model: Model, uploads: list[tuple[str, bytes]], label: int | None) -> list[float]:
    return [float(s) for s in model.score(_decode_uploads(model, uploads), label, flag="label")]


def reconstruct_job(model: Model, uploads: list[tuple[str, bytes]], fmt: str):
    return encode({"images": to_uint8(model.reconstruct(_decode_uploads(model, uploads)))}, fmt)


def translate_job(model: Model, name: str, data: bytes, direction: str) -> bytes:
    image = read_rgb_or_gray(io.BytesIO(data), f"upload '{name}'")
    return _png(translate_array(model, image, direction))


def project_job(model: Model, uploads: list[tuple[str, bytes]], steps: int, seed: int, fmt: str):
    result = project(model, _decode_uploads(model, uploads), steps=steps, seed=seed, frames=1)
    arrays = {"images": to_uint8(result.result), "w": result.w.cpu().numpy()}
    if fmt == "npz":
        return encode(arrays, fmt)
    body = {"w": arrays["w"].tolist(), "psnr_db": result.psnrs,
            "images": ["data:image/png;base64," + base64.b64encode(_png(im)).decode() for im in arrays["images"]]}
    return json.dumps(body).encode(), "application/json"


def classify_job(model: Model, uploads: list[tuple[str, bytes]]) -> list[dict]:
    classes, probabilities = classify(model, _decode_uploads(model, uploads))
    return [{"file": name, "class": int(k), "probability": float(p)}
            for (name, _), k, p in zip(uploads, classes, probabilities)]


def upscale_job(model: Model, name: str, data: bytes) -> bytes:
    return _png(upscale_image(model, read_rgb_or_gray(io.BytesIO(data), f"upload '{name}'")))


# ---- checks made before any work is queued --------------------------------------------------------

class Refused(Exception):
    """A request refused with an HTTP status and a message naming the problem."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def image_size(name: str, data: bytes, max_pixels: int, scale: int = 1) -> tuple[int, int]:
    """An upload's (width, height) from its header, without decoding its pixels: a decompression
    bomb (a small file that claims 20,000 x 20,000 pixels) is refused here."""
    if not data:
        raise Refused(422, f"upload '{name}' is empty")
    try:
        with warnings.catch_warnings():  # PIL warns from 89M pixels; the limit below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
    except Image.DecompressionBombError:
        raise Refused(413, f"upload '{name}': its header claims more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels; "
                           f"this server takes at most {max_pixels:,} (--max-pixels)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise Refused(415, f"upload '{name}' is not an image file (PNG, JPEG, ...) that can be read") from None
    pixels = width * height * scale * scale
    if pixels > max_pixels:
        what = f"{width}x{height} pixels" + (f" (x{scale}: {width * scale}x{height * scale} out)" if scale > 1 else "")
        raise Refused(413, f"upload '{name}': {what} = {pixels:,} pixels; this server takes at most {max_pixels:,} (--max-pixels)")
    return width, height


def _token_given(scope) -> tuple[str | None, bool]:
    """The token a request carries (Authorization: Bearer, then the cookie, then ?token=) and whether it came in the URL."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    try:
        cookie = SimpleCookie(headers.get("cookie", ""))
    except CookieError:
        cookie = SimpleCookie()
    if TOKEN_COOKIE in cookie:
        return cookie[TOKEN_COOKIE].value, False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "token" in query:
        return query["token"][0], True
    return None, False


async def _send_json(send, status: int, body: dict, extra: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": data})


class Guard:
    """ASGI middleware run on every request before any route: the token (when one is set), checked
    in constant time, and the body size the request declares (the server reads no more than that)."""

    def __init__(self, app, token: str | None, max_body: int):
        self.app, self.token, self.max_body = app, token, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        set_cookie = False
        if self.token is not None:
            given, in_url = _token_given(scope)
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                why = "no token given" if given is None else "wrong token"
                return await _send_json(send, 401, {"error": f"{why}: send 'Authorization: Bearer TOKEN' (or open /?token=TOKEN in a browser)"},
                                        [(b"www-authenticate", b"Bearer")])
            set_cookie = in_url  # the page's own requests (and /docs) then carry it as a cookie
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if b"transfer-encoding" in headers:  # a body of unknown length: the limit could only be found out by reading it
            return await _send_json(send, 411, {"error": "send the request body with a Content-Length header, not chunked"})
        length = headers.get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body:  # uvicorn then holds the body to that length
            return await _send_json(send, 413, {"error": f"request body of {length.decode('latin-1')} bytes is over this server's "
                                                         f"limit of {self.max_body:,} (--max-upload-bytes)"})

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                cookie = f"{TOKEN_COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie if set_cookie else send)


# ---- the app --------------------------------------------------------------------------------------

def create_app(models: dict[str, Model], limits: Limits | None = None, token: str | None = None):
    """A FastAPI app serving `models` (name -> loaded Model); `token`, when given, is required on every request."""
    from fastapi import FastAPI, File, Form, Query, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from starlette.exceptions import HTTPException

    limits = limits or Limits()
    if not models:
        raise UserError("no model to serve")
    served = {name: Served(name, model, limits.queue_size) for name, model in models.items()}
    page = (resources.files(__package__) / "page.html").read_text(encoding="utf-8")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        for s in served.values():  # finish what is queued, then stop
            s.worker.close()

    app = FastAPI(title="gankit", version=__version__, lifespan=lifespan,
                  description="Sample, interpolate, score, upscale and reconstruct with trained gankit runs. "
                              "Errors are JSON: {\"error\": \"...\"}.")
    app.add_middleware(Guard, token=token, max_body=limits.max_upload_bytes)
    app.state.served, app.state.limits = served, limits

    def error(status: int, message: str, headers: dict | None = None):
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        return error(exc.status, exc.message, exc.headers)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return error(400, str(exc))

    @app.exception_handler(Exception)  # a fault of ours: JSON too (uvicorn logs the traceback), and the next request is served
    async def internal(request: Request, exc: Exception):
        return error(500, f"internal error ({type(exc).__name__}: {exc}); the server goes on")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        message = {404: f"no such path '{request.url.path}' (the API is listed at /docs)",
                   405: f"method {request.method} is not allowed on '{request.url.path}'",
                   }.get(exc.status_code, str(exc.detail))
        return error(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ())]
            where = f"{loc[0]} '{loc[-1]}'" if len(loc) > 1 else (loc[0] if loc else "request")
            got = f" (got {e['input']!r})" if "input" in e and not isinstance(e["input"], (dict, list)) and e["input"] is not None else ""
            parts.append(f"{where}: {e.get('msg', 'invalid')}{got}")
        return error(422, "; ".join(parts))

    def lookup(name: str, capability: str) -> Served:
        s = served.get(name)
        if s is None:
            raise Refused(404, f"no model '{name}' is served (models: {', '.join(served)})")
        if capability not in s.capabilities:
            raise Refused(400, f"model '{name}' ({s.model.config.recipe}) cannot {capability}; it can: {', '.join(s.capabilities) or 'nothing'}")
        return s

    def check_n(n: int, what: str = "n") -> None:
        if n < 1:
            raise Refused(422, f"{what} must be at least 1, got {n}")
        if n > limits.max_n:
            raise Refused(422, f"{what}={n:,} is over this server's limit of {limits.max_n} (--max-n)")

    def check_label(s: Served, label: int | None) -> None:
        try:
            s.model.check_label(label, "label")
        except UserError as exc:
            raise Refused(422, f"model '{s.name}': {exc}") from None

    def check_styles(s: Served, truncation: float, text: str | None) -> None:
        """truncation and text are refused by name for a model without them, and text's words are
        checked against the model's vocabulary, before the request is queued."""
        if truncation != 1.0 and "truncation" not in s.capabilities:
            raise Refused(400, f"truncation={truncation:g}: model '{s.name}' ({s.model.config.recipe}) has no mapping "
                               f"network to truncate (a StyleGAN2 model has)")
        if text is not None:
            if "text" not in s.capabilities:
                raise Refused(400, f"text: model '{s.name}' ({s.model.config.recipe}) draws nothing from text")
            try:
                s.model.text_tokens([text], "text")
            except UserError as exc:
                raise Refused(422, f"model '{s.name}': {exc}") from None

    async def run(s: Served, fn, *args):
        try:
            future = s.worker.submit(fn, s.model, *args)
        except Busy:
            raise Refused(503, f"model '{s.name}' is busy: {limits.queue_size} requests are already waiting (--queue); retry shortly",
                          {"Retry-After": "1"}) from None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), limits.timeout_s)
        except asyncio.TimeoutError:
            raise Refused(504, f"model '{s.name}' did not finish within {limits.timeout_s:g} s (--timeout)") from None

    async def read_uploads(files: list[UploadFile], scale: int = 1) -> list[tuple[str, bytes]]:
        if not files:
            raise Refused(422, "no file uploaded (send multipart field 'files')")
        check_n(len(files), "number of files")
        uploads = []
        for f in files:
            name, data = f.filename or "upload", await f.read()
            image_size(name, data, limits.max_pixels, scale)
            uploads.append((name, data))
        return uploads

    def reply(body_and_type: tuple[bytes, str], stem: str) -> Response:
        body, media = body_and_type
        headers = {"Content-Disposition": f'attachment; filename="{stem}.npz"'} if media == "application/octet-stream" else None
        return Response(body, media_type=media, headers=headers)

    Format = Query("grid", pattern="^(grid|json|npz)$", description="grid: one PNG; json: one PNG per image (data URIs) and labels; npz: arrays")
    Seed = Query(0, ge=0, le=SEED_MAX)
    Label = Query(None, description="class to draw (models with the 'label' capability)")
    Truncation = Query(1.0, gt=0, le=2, description="psi: 1 = none, 0.7 a common choice (models with the 'truncation' capability)")
    Text = Query(None, min_length=1, max_length=500, description="a caption (models with the 'text' capability)")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return HTMLResponse(page)

    @app.get("/api/models", summary="the served models: name, family, capabilities, image shape, classes; and the limits")
    async def list_models():
        return {"models": [s.describe() for s in served.values()],
                "limits": {"max_n": limits.max_n, "max_upload_bytes": limits.max_upload_bytes,
                           "max_pixels": limits.max_pixels, "timeout_s": limits.timeout_s, "queue_size": limits.queue_size},
                "capabilities": {c.name: c.summary for c in CAPABILITIES}}

    @app.get("/api/models/{name}", summary="one model's description")
    async def describe(name: str):
        s = served.get(name)
        if s is None:
            raise Refused(404, f"no model '{name}' is served (models: {', '.join(served)})")
        return s.describe()

    @app.get("/api/models/{name}/sample", summary=CAPABILITIES[0].summary)
    async def sample(name: str, n: int = 16, seed: int = Seed, label: int | None = Label, format: str = Format,
                     truncation: float = Truncation, text: str | None = Text):
        s = lookup(name, "sample")
        check_n(n)
        if format == "grid" and not s.model.is_images:
            raise Refused(422, f"format 'grid': model '{name}' draws points, not images; use format=json or format=npz")
        check_label(s, label)
        check_styles(s, truncation, text)
        return reply(await run(s, sample_job, n, seed, label, text, truncation, format), f"{name}-seed{seed}")

    @app.get("/api/models/{name}/interpolate", summary="a latent walk: rows of `steps` images along slerp paths "
                                                       "(conditional models: one row per class, or only `label`'s)")
    async def interpolate(name: str, steps: int = 8, rows: int = 1, seed: int = Seed, label: int | None = Label,
                          format: str = Format, truncation: float = Truncation):
        s = lookup(name, "interpolate")
        if steps < 2:
            raise Refused(422, f"steps must be at least 2, got {steps}")
        check_n(rows, "rows")
        check_label(s, label)
        paths = rows if not s.model.conditional else (1 if label is not None else s.model.num_classes)
        check_n(paths * steps, f"{paths} path(s) x {steps} steps")
        check_styles(s, truncation, None)
        return reply(await run(s, interpolate_job, rows, steps, seed, label, truncation, format), f"{name}-walk{seed}")

    @app.post("/api/models/{name}/score", summary="D's output per uploaded image: P(real) for nonsat/minimax, "
                                                  "else an unbounded score (higher = more real)")
    async def score(name: str, files: list[UploadFile] = File(...), label: int | None = Form(None)):
        s = lookup(name, "score")
        try:
            s.model.check_score_label(label, "label")
        except UserError as exc:
            raise Refused(422, f"model '{name}': {exc}") from None
        uploads = await read_uploads(files)
        values = await run(s, score_job, uploads, label)
        return {"model": name, "d_output": "probability" if s.model.d_gives_probabilities else "score", "label": label,
                "scores": [{"name": n, "value": v} for (n, _), v in zip(uploads, values)]}

    @app.post("/api/models/{name}/upscale", summary="an uploaded image super-resolved, as PNG", response_class=Response)
    async def upscale(name: str, file: UploadFile = File(...)):
        s = lookup(name, "upscale")
        (upload,) = await read_uploads([file], scale=s.model.recipe.scale)
        return Response(await run(s, upscale_job, *upload), media_type="image/png")

    @app.post("/api/models/{name}/translate", summary="an uploaded image translated, as PNG, at its own size",
              response_class=Response)
    async def translate(name: str, file: UploadFile = File(...), direction: str = Form("a2b", pattern="^(a2b|b2a)$")):
        s = lookup(name, "translate")
        try:
            check_translator(s.model, direction, name)
        except UserError as exc:
            raise Refused(422, str(exc)) from None
        (upload,) = await read_uploads([file])
        return Response(await run(s, translate_job, *upload, direction), media_type="image/png")

    @app.post("/api/models/{name}/project", summary="the w (N, num_ws, w_dim) reproducing each uploaded target, "
                                                     "its image and PSNR (json), or w and images (npz)")
    async def project_images(name: str, files: list[UploadFile] = File(...), steps: int = Form(100, ge=1, le=2000),
                             seed: int = Form(0, ge=0, le=SEED_MAX), format: str = Form("json", pattern="^(json|npz)$")):
        s = lookup(name, "project")
        uploads = await read_uploads(files)
        return reply(await run(s, project_job, uploads, steps, seed, format), f"{name}-projected")

    @app.post("/api/models/{name}/classify", summary="the class and its probability for each uploaded image")
    async def classify_images(name: str, files: list[UploadFile] = File(...)):
        s = lookup(name, "classify")
        uploads = await read_uploads(files)
        return {"classes": await run(s, classify_job, uploads)}

    @app.post("/api/models/{name}/reconstruct", summary="G(E(x)) for uploaded images, at the model's resolution")
    async def reconstruct(name: str, files: list[UploadFile] = File(...), format: str = Form("grid", pattern="^(grid|json|npz)$")):
        s = lookup(name, "reconstruct")
        uploads = await read_uploads(files)
        return reply(await run(s, reconstruct_job, uploads, format), f"{name}-reconstructed")

    return app
