"""`gankit serve`: the API through an HTTP client on tiny runs trained here, its refusals, the worker
queue, the CLI's checks, and the page in a real (headless) Chromium against a real uvicorn."""

import base64
import io
import os
import shutil
import socket
import struct
import threading
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
from fastapi.testclient import TestClient  # noqa: E402

from gankit.cli import main  # noqa: E402
from gankit.configure import load_config  # noqa: E402
from gankit.data.transform import array_to_tensor  # noqa: E402
from gankit.model import load  # noqa: E402
from gankit.report.grid import to_uint8  # noqa: E402
from gankit.serve import BackgroundServer, Limits, create_app  # noqa: E402
from gankit.serve.worker import Busy, ModelWorker  # noqa: E402
from gankit.sr import upscale_image  # noqa: E402
from gankit.train.loop import train  # noqa: E402

TOKEN = "test-token-0123456789"
TINY = ["model.g_width=8", "model.d_width=8", "optim.batch_size=8", "data.limit=64", "train.steps=2",
        "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Four tiny runs (two training steps each): conditional, with an encoder, an SRGAN, and 2-D points."""
    root = tmp_path_factory.mktemp("serve")
    specs = {"cgan": ("cgan-mnist", ["model.z_dim=16"]), "vaegan": ("vaegan-mnist", ["model.z_dim=8"]),
             "sr": ("srgan", ["srgan.blocks=1", "srgan.warmup_steps=1", "train.grid_size=4", "data.resolution=16"]),
             "ring": ("ring", ["optim.batch_size=24"])}
    return {name: train(load_config(preset, TINY + extra), root / name, progress=False).dir
            for name, (preset, extra) in specs.items()}


@pytest.fixture(scope="module")
def models(runs):
    return {name: load(path) for name, path in runs.items()}


@pytest.fixture(scope="module")
def styled(tmp_path_factory):
    """Two tiny runs whose sampling takes more than a seed and a label: a StyleGAN2 (truncation) and a
    text-to-image model (a caption)."""
    root = tmp_path_factory.mktemp("serve-styled")
    specs = {"style": ("stylegan2-mnist", ["model.z_dim=8", "stylegan2.w_dim=8", "stylegan2.mapping_layers=2",
                                           "stylegan2.channel_base=64", "stylegan2.channel_max=8", "train.grid_size=4"]),
             "text": ("text-mnist", ["model.g_width=8", "model.d_width=8", "model.z_dim=8", "text.word_dim=8",
                                     "text.embed_dim=8", "text.compressed=4", "text.pretrain_steps=4", "train.grid_size=4"])}
    common = ["optim.batch_size=8", "data.limit=64", "train.steps=2", "train.log_every=1", "train.sample_every=100",
              "train.checkpoint_every=100"]
    return {name: load(train(load_config(preset, common + extra), root / name, progress=False).dir)
            for name, (preset, extra) in specs.items()}


@pytest.fixture(scope="module")
def image_models(tmp_path_factory):
    """A tiny pix2pix (grey -> colour, trained on a folder of pairs) and a tiny semi-supervised GAN."""
    root = tmp_path_factory.mktemp("serve-images")
    rng = np.random.default_rng(0)
    for i in range(8):
        b = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        for side, image in (("A", b.mean(2).astype(np.uint8)), ("B", b)):
            (root / "pairs" / side).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / "pairs" / side / f"{i}.png")
    common = ["train.steps=2", "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100", "train.grid_size=4"]
    p2p = load_config("pix2pix-colorize", [f"data.source={root / 'pairs'}", "data.resolution=16", "translation.unet_depth=4",
                                           "translation.d_layers=1", "model.g_width=4", "model.d_width=4",
                                           "optim.batch_size=4", *common])
    ss = load_config("ssgan-mnist", ["model.g_width=16", "model.d_width=32", "model.z_dim=8", "optim.batch_size=32",
                                     "data.limit=500", "data.held_out=100", "data.labelled=50", *common])
    return {"p2p": load(train(p2p, root / "p2p", progress=False).dir), "ss": load(train(ss, root / "ss", progress=False).dir)}


def test_translate_project_and_classify_where_the_model_can(image_models, styled, models):
    from gankit.classify import classify
    from gankit.translate import translate_array

    client = TestClient(create_app({**image_models, "style": styled["style"], "cgan": models["cgan"]}, Limits(max_n=64)))
    caps = {m["name"]: m["capabilities"] for m in client.get("/api/models").json()["models"]}
    assert caps["p2p"] == ["translate"] and "classify" in caps["ss"] and "score" not in caps["ss"]
    assert "project" in caps["style"] and "project" not in caps["cgan"]

    grey = np.random.default_rng(1).integers(0, 256, (20, 36), dtype=np.uint8)  # any size, not the training one
    r = client.post("/api/models/p2p/translate", files={"file": ("g.png", png(grey[:, :, None]), "image/png")})
    assert r.status_code == 200
    got = np.asarray(Image.open(io.BytesIO(r.content)))
    want = translate_array(image_models["p2p"], grey[:, :, None])
    assert got.shape == (20, 36, 3) and np.array_equal(got, want)
    r = client.post("/api/models/p2p/translate", data={"direction": "b2a"},
                    files={"file": ("g.png", png(grey[:, :, None]), "image/png")})
    assert r.status_code == 422 and "a2b only" in r.json()["error"]

    ups = [("files", (f"d{i}.png", png(im), "image/png")) for i, im in enumerate(digits(3))]
    r = client.post("/api/models/ss/classify", files=ups)
    x = array_to_tensor(digits(3), "t", 28, 1)
    classes, probabilities = classify(image_models["ss"], x)
    assert [c["class"] for c in r.json()["classes"]] == classes.tolist()
    assert np.allclose([c["probability"] for c in r.json()["classes"]], probabilities, atol=1e-6)

    target = styled["style"].sample(1, seed=5)["images"]
    r = client.post("/api/models/style/project", data={"steps": "3", "format": "npz"},
                    files=[("files", ("t.png", png(target[0]), "image/png"))])
    arrays = np.load(io.BytesIO(r.content))
    G = styled["style"].recipe.sampler
    assert arrays["w"].shape == (1, G.num_ws, G.w_dim) and arrays["images"].shape == target.shape
    assert client.post("/api/models/cgan/project", files=[("files", ("t.png", png(target[0]), "image/png"))]).status_code == 400
    assert client.get("/api/models/style/sample?n=2").status_code == 200  # the model is whole after a projection


def test_truncation_and_text_are_served_where_the_model_takes_them(styled, models):
    client = TestClient(create_app({**styled, "cgan": models["cgan"]}, Limits(max_n=64)))
    caps = {m["name"]: m["capabilities"] for m in client.get("/api/models").json()["models"]}
    assert "truncation" in caps["style"] and "truncation" not in caps["cgan"] and "text" not in caps["style"]
    assert "text" in caps["text"] and "truncation" not in caps["text"]

    got = np.load(io.BytesIO(client.get("/api/models/style/sample?n=6&seed=4&truncation=0.5&format=npz").content))
    assert np.array_equal(got["images"], styled["style"].sample(6, seed=4, truncation=0.5)["images"])
    assert not np.array_equal(got["images"], styled["style"].sample(6, seed=4)["images"])
    walk = client.get("/api/models/style/interpolate?steps=3&truncation=0.5&format=npz")
    assert walk.status_code == 200 and np.load(io.BytesIO(walk.content))["images"].shape[0] == 3

    caption = "a thick seven leaning right"
    got = np.load(io.BytesIO(client.get(f"/api/models/text/sample?n=4&seed=1&format=npz&text={caption}").content))
    want = styled["text"].sample(4, seed=1, text=caption)
    assert np.array_equal(got["images"], want["images"]) and list(got["captions"]) == [caption] * 4

    for query, status, words in [("cgan/sample?truncation=0.5", 400, "truncation"),
                                 ("style/sample?truncation=3", 422, "truncation"),
                                 ("cgan/sample?text=a%20seven", 400, "text"),
                                 ("text/sample?text=a%20purple%20seven", 422, "purple")]:
        r = client.get(f"/api/models/{query}")
        assert r.status_code == status and words in r.json()["error"], (query, r.json())
    assert client.get("/api/models/style/sample?n=2").status_code == 200  # and the next request is served


@pytest.fixture(scope="module")
def client(models):
    return TestClient(create_app(models, Limits(max_n=64, max_upload_bytes=200_000, max_pixels=100_000)))


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array).save(buf, format="PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A 100-byte PNG whose header claims width x height (a decompression bomb's first bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def digits(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)


# ---- what each endpoint returns -------------------------------------------------------------------
def test_models_lists_each_runs_capabilities_and_shape(client):
    body = client.get("/api/models").json()
    by_name = {m["name"]: m for m in body["models"]}
    assert by_name["cgan"]["capabilities"] == ["sample", "label", "interpolate", "score"]
    assert by_name["cgan"]["classes"] == list(range(10)) and by_name["cgan"]["image_shape"] == [28, 28, 1]
    assert by_name["vaegan"]["capabilities"] == ["sample", "interpolate", "score", "reconstruct"]
    assert by_name["vaegan"]["classes"] == []
    assert by_name["sr"]["capabilities"] == ["score", "upscale"] and by_name["sr"]["scale"] == 4
    assert by_name["ring"]["capabilities"] == ["sample"]  # points, and a D that judges packs of 3
    assert by_name["ring"]["image_shape"] is None and by_name["ring"]["points_dim"] == 2
    assert body["limits"]["max_n"] == 64
    assert client.get("/api/models/cgan").json() == by_name["cgan"]


def test_sample_is_the_models_own_sample_in_every_format(client, models):
    expected = models["cgan"].sample(6, seed=5, label=3)
    r = client.get("/api/models/cgan/sample", params={"n": 6, "seed": 5, "label": 3, "format": "npz"})
    assert r.status_code == 200
    with np.load(io.BytesIO(r.content)) as got:
        assert np.array_equal(got["images"], expected["images"]) and got["labels"].tolist() == [3] * 6
    body = client.get("/api/models/cgan/sample", params={"n": 6, "seed": 5, "label": 3, "format": "json"}).json()
    assert body["labels"] == [3] * 6 and len(body["images"]) == 6
    first = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["images"][0].split(",", 1)[1]))))
    assert np.array_equal(first, expected["images"][0, :, :, 0])
    grid = Image.open(io.BytesIO(client.get("/api/models/cgan/sample", params={"n": 6, "seed": 5, "label": 3}).content))
    assert grid.size == (3 * 30 + 2, 2 * 30 + 2)  # 3 columns x 2 rows of 28 px, 2 px padding
    other = client.get("/api/models/cgan/sample", params={"n": 6, "seed": 6, "label": 3, "format": "npz"})
    assert not np.array_equal(np.load(io.BytesIO(other.content))["images"], expected["images"])


def test_a_points_model_samples_points(client, models):
    body = client.get("/api/models/ring/sample", params={"n": 5, "seed": 1, "format": "json"}).json()
    assert np.allclose(body["points"], models["ring"].sample(5, seed=1)["points"], atol=1e-6)
    r = client.get("/api/models/ring/sample", params={"n": 5})
    assert r.status_code == 422 and "model 'ring' draws points, not images" in r.json()["error"]


def test_interpolate_walks_from_one_latent_to_the_other(client, models):
    model = models["vaegan"]
    body = client.get("/api/models/vaegan/interpolate", params={"steps": 5, "rows": 1, "seed": 2, "format": "json"}).json()
    frames = [np.asarray(Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1])))) for u in body["images"]]
    assert len(frames) == 5
    gen = torch.Generator().manual_seed(2)  # the walk's ends are G of the two latents the seed draws
    z0, z1 = model.recipe.sample_z(1, gen), model.recipe.sample_z(1, gen)
    with torch.no_grad():
        ends = to_uint8(model.recipe.generate(torch.cat([z0, z1])))
    assert np.array_equal(frames[0], ends[0, :, :, 0]) and np.array_equal(frames[-1], ends[1, :, :, 0])
    cond = client.get("/api/models/cgan/interpolate", params={"steps": 4, "label": 7, "format": "json"}).json()
    assert len(cond["images"]) == 4  # one class's row only


def test_score_equals_d_on_the_same_images(client, models):
    images = digits(3)
    files = [("files", (f"d{i}.png", png(im))) for i, im in enumerate(images)]
    body = client.post("/api/models/cgan/score", files=files, data={"label": "4"}).json()
    expected = models["cgan"].score(array_to_tensor(images, "t", 28, 1), 4)
    assert [s["name"] for s in body["scores"]] == ["d0.png", "d1.png", "d2.png"]
    assert np.allclose([s["value"] for s in body["scores"]], expected, atol=1e-6)
    assert body["d_output"] == "probability" and all(0 <= s["value"] <= 1 for s in body["scores"])
    other = client.post("/api/models/cgan/score", files=files, data={"label": "5"}).json()
    assert [s["value"] for s in other["scores"]] != [s["value"] for s in body["scores"]]  # a conditional D reads the label


def test_upscale_and_reconstruct_equal_the_library(client, models):
    small = np.random.default_rng(1).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    r = client.post("/api/models/sr/upscale", files={"file": ("s.png", png(small))})
    big = np.asarray(Image.open(io.BytesIO(r.content)))
    assert big.shape == (40, 48, 3) and np.array_equal(big, upscale_image(models["sr"], small))
    sr_scores = client.post("/api/models/sr/score", files={"files": ("s.png", png(small))})  # D of HR patches
    assert sr_scores.status_code == 200 and len(sr_scores.json()["scores"]) == 1
    images = digits(2, seed=3)
    files = [("files", (f"r{i}.png", png(im))) for i, im in enumerate(images)]
    r = client.post("/api/models/vaegan/reconstruct", files=files, data={"format": "npz"})
    got = np.load(io.BytesIO(r.content))["images"]
    assert np.array_equal(got, to_uint8(models["vaegan"].reconstruct(array_to_tensor(images, "t", 28, 1))))


# ---- refusals: 4xx JSON naming the problem, and the next request is served ------------------------
BAD = [
    ("get", "/api/models/cgan/sample", {"params": {"n": 10**9}}, 422, "n=1,000,000,000 is over this server's limit of 64 (--max-n)"),
    ("get", "/api/models/cgan/sample", {"params": {"n": 0}}, 422, "n must be at least 1"),
    ("get", "/api/models/cgan/sample", {"params": {"label": 12}}, 422, "label 12: this model was trained on classes 0..9"),
    ("get", "/api/models/vaegan/sample", {"params": {"label": 1}}, 422, "label 1: this model is not conditional"),
    ("get", "/api/models/cgan/sample", {"params": {"seed": -1}}, 422, "query 'seed'"),
    ("get", "/api/models/cgan/sample", {"params": {"format": "gif"}}, 422, "query 'format'"),
    ("get", "/api/models/gone/sample", {}, 404, "no model 'gone' is served (models: cgan, vaegan, sr, ring)"),
    ("get", "/api/models/sr/sample", {}, 400, "model 'sr' (srgan) cannot sample; it can: score, upscale"),
    ("get", "/api/models/cgan/interpolate", {"params": {"steps": 1}}, 422, "steps must be at least 2"),
    ("get", "/api/models/cgan/interpolate", {"params": {"steps": 8}}, 422, "10 path(s) x 8 steps=80 is over"),
    ("post", "/api/models/cgan/score", {"files": {"files": ("a.txt", b"plain text")}, "data": {"label": "1"}}, 415,
     "upload 'a.txt' is not an image file"),
    ("post", "/api/models/cgan/score", {"files": {"files": ("e.png", b"")}, "data": {"label": "1"}}, 422, "upload 'e.png' is empty"),
    ("post", "/api/models/cgan/score", {"files": {"files": ("bomb.png", png_header_only(20_000, 20_000))}, "data": {"label": "1"}},
     413, "upload 'bomb.png': its header claims more than"),
    ("post", "/api/models/cgan/score", {"files": {"files": ("big.png", png_header_only(400, 400))}, "data": {"label": "1"}},
     413, "upload 'big.png': 400x400 pixels = 160,000 pixels; this server takes at most 100,000 (--max-pixels)"),
    ("post", "/api/models/cgan/score", {"files": {"files": ("d.png", png(digits(1)[0]))}}, 422, "this model's D is conditional"),
    ("post", "/api/models/cgan/score", {"data": {"label": "1"}}, 422, "body 'files': Field required"),
    ("post", "/api/models/sr/upscale", {"files": {"file": ("s.png", png(np.zeros((100, 100, 3), np.uint8)))}}, 413,
     "100x100 pixels (x4: 400x400 out) = 160,000 pixels"),
    ("post", "/api/models/cgan/score", {"files": {"files": ("huge.png", b"\0" * 300_000)}, "data": {"label": "1"}}, 413,
     "bytes is over this server's limit of 200,000 (--max-upload-bytes)"),
    ("post", "/api/models/cgan/score", {"content": iter([b"--x\r\n"]), "headers": {"content-type": "multipart/form-data; boundary=x"}},
     411, "send the request body with a Content-Length header, not chunked"),
    ("get", "/api/nothing", {}, 404, "no such path '/api/nothing'"),
]


@pytest.mark.parametrize("method, path, kwargs, status, message", BAD, ids=[b[4][:40] for b in BAD])
def test_a_bad_request_is_named_and_the_next_is_served(client, method, path, kwargs, status, message):
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json" and message in r.json()["error"], r.json()
    assert client.get("/api/models/cgan/sample", params={"n": 1}).status_code == 200


def test_the_token_is_checked_on_every_request(models):
    client = TestClient(create_app(models, token=TOKEN))
    for path in ("/", "/docs", "/openapi.json", "/api/models", "/api/models/cgan/sample", "/no/such/path"):
        r = client.get(path)
        assert r.status_code == 401 and "no token given" in r.json()["error"], path
        r = client.get(path, headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        assert r.status_code == 401 and "wrong token" in r.json()["error"], path
    assert client.get("/api/models", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    page = client.get("/", params={"token": TOKEN})  # a browser opens /?token=T once; a cookie carries it on
    assert page.status_code == 200 and "gankit_token" in page.headers["set-cookie"]
    assert client.get("/api/models").status_code == 200


def test_an_internal_fault_is_500_json_and_the_next_request_is_served(models, monkeypatch):
    client = TestClient(create_app({"cgan": models["cgan"]}), raise_server_exceptions=False)
    real = type(models["cgan"]).sample

    def fails_once(self, *args, **kwargs):
        monkeypatch.setattr(type(self), "sample", real)
        raise RuntimeError("planted fault")

    monkeypatch.setattr(type(models["cgan"]), "sample", fails_once)
    r = client.get("/api/models/cgan/sample", params={"n": 1})
    assert r.status_code == 500 and "RuntimeError: planted fault" in r.json()["error"]
    assert client.get("/api/models/cgan/sample", params={"n": 1}).status_code == 200


# ---- the worker: a bounded queue, 503 when full, 504 past the timeout -----------------------------
def test_worker_runs_jobs_in_order_and_refuses_when_full():
    worker = ModelWorker("t", queue_size=2)
    gate, order = threading.Event(), []
    first = worker.submit(gate.wait)  # occupies the thread
    while not first.running():
        pass
    queued = [worker.submit(order.append, i) for i in range(2)]
    with pytest.raises(Busy):
        worker.submit(order.append, 99)
    gate.set()
    for f in queued:
        f.result(5)
    assert order == [0, 1]
    failing = worker.submit(int, "not a number")
    with pytest.raises(ValueError):
        failing.result(5)
    assert worker.submit(len, "abc").result(5) == 3  # an exception does not stop the worker
    worker.close()


def test_full_queue_is_503_with_retry_after_and_slow_work_is_504(models):
    app = create_app({"cgan": models["cgan"]}, Limits(queue_size=1, timeout_s=0.3))
    client = TestClient(app)
    worker = app.state.served["cgan"].worker
    gate = threading.Event()
    busy = worker.submit(gate.wait)
    while not busy.running():
        pass
    r = client.get("/api/models/cgan/sample", params={"n": 1})  # waits in the one slot, then times out
    assert r.status_code == 504 and "did not finish within 0.3 s (--timeout)" in r.json()["error"]
    # The timed-out job keeps its slot until the worker reaches it (and skips it): still full.
    r = client.get("/api/models/cgan/sample", params={"n": 1})
    assert r.status_code == 503 and r.headers["retry-after"] == "1" and "is busy" in r.json()["error"]
    gate.set()
    assert client.get("/api/models/cgan/sample", params={"n": 1}).status_code == 200


# ---- the command: checks before anything loads ------------------------------------------------------
def test_serve_cli_refusals(runs, capsys, monkeypatch):
    run = str(runs["cgan"])
    cases = [
        (["serve", run, "--host", "0.0.0.0"], "--host 0.0.0.0: serving on an address other than loopback"),
        (["serve", run, "--host", "0.0.0.0", "--token", "short"], "--token: give at least 16 characters"),
        (["serve", run, "--max-n", "0"], "--max-n must be at least 1, got 0"),
        (["serve", run, run], "two runs are named 'cgan': name them apart with NAME=RUN"),
        (["serve", "a/b=" + run], "model name 'a/b' must be letters"),
        (["serve", run, "--port", "70000"], "--port must be 0..65535"),
    ]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        cases.append((["serve", run, "--port", str(taken.getsockname()[1])], "cannot listen there"))
        for argv, message in cases:
            assert main(argv) == 2, argv
            assert message in capsys.readouterr().err, argv
    assert main(["serve", str(runs["cgan"].parent / "missing"), "--port", "0"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    assert main(["serve", run]) == 2
    assert "gankit serve needs uvicorn: pip install -e '.[serve]'" in capsys.readouterr().err


def test_score_cli_takes_the_label_of_a_conditional_model(runs, tmp_path, capsys):
    np.savez(tmp_path / "d.npz", images=digits(2))
    assert main(["score", str(runs["cgan"]), str(tmp_path / "d.npz")]) == 2
    assert "--label: this model's D is conditional" in capsys.readouterr().err
    assert main(["score", str(runs["cgan"]), str(tmp_path / "d.npz"), "--label", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


# ---- the page in a real browser against a real uvicorn ----------------------------------------------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.skipif(not shutil.which("chromium") and not os.path.exists("/usr/bin/chromium"),
                    reason="Chromium not installed (apt-get install -y chromium)")
def test_page_in_chromium_draws_changes_walks_and_scores(models, styled, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    app = create_app({"cgan": models["cgan"], "vaegan": models["vaegan"], "style": styled["style"]}, Limits(max_n=64),
                     token=TOKEN)
    upload = tmp_path / "digit.png"
    upload.write_bytes(png(digits(1)[0]))
    with BackgroundServer(app) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            problems = []
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(f"{url}/?token={TOKEN}")
            page.wait_for_selector("body[data-draws='1']", timeout=20_000)
            first = page.locator("#samples").screenshot()
            assert page.locator("#truncation").is_disabled()  # a cgan has no truncation
            assert page.locator("#label-control").is_visible()

            page.fill("#seed", "7")
            page.dispatch_event("#seed", "change")
            page.wait_for_selector("body[data-draws='2']", timeout=20_000)
            assert page.locator("#samples").get_attribute("data-query").startswith("seed=7")
            second = page.locator("#samples").screenshot()
            assert second != first

            page.select_option("#label", "3")
            page.wait_for_selector("body[data-draws='3']", timeout=20_000)
            assert "label=3" in page.locator("#samples").get_attribute("data-query")
            assert page.locator("#samples").screenshot() != second

            page.fill("#steps", "6")
            page.click("#walk")
            page.wait_for_selector("body[data-walks='1']", timeout=20_000)
            frame0 = page.locator("#walk-frame").get_attribute("src")
            page.locator("#walk-pos").fill("5")
            assert page.locator("#walk-frame").get_attribute("src") != frame0

            page.set_input_files("#score-files", str(upload))
            page.click("#score")
            page.wait_for_selector("body[data-scores='1']", timeout=20_000)
            value = float(page.locator("#score-table tr:nth-child(2) td:first-child").inner_text())
            assert 0 <= value <= 1

            page.select_option("#model", "vaegan")
            page.wait_for_selector("body[data-draws='4']", timeout=20_000)
            assert page.locator("#label-control").is_hidden() and page.locator("#reconstruct-box").is_visible()

            page.select_option("#model", "style")  # a StyleGAN2: the truncation control moves the samples
            page.wait_for_selector("body[data-draws='5']", timeout=20_000)
            assert page.locator("#truncation").is_enabled()
            untruncated = page.locator("#samples").screenshot()
            page.eval_on_selector("#truncation", "e => { e.value = '0.5'; e.dispatchEvent(new Event('input')); "
                                                 "e.dispatchEvent(new Event('change')); }")
            # the draw this change asked for has landed (not merely some later draw: count and query both)
            page.wait_for_function("() => Number(document.body.dataset.draws) >= 6 && "
                                   "document.getElementById('samples').dataset.query.includes('truncation=0.5')",
                                   timeout=20_000)
            assert page.locator("#truncation-value").inner_text() == "0.50"
            assert page.locator("#samples").screenshot() != untruncated
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot), full_page=True)
            pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
            assert pixels.std() > 10  # not a blank page
            assert page.locator("#status").get_attribute("class") != "error", page.locator("#status").inner_text()
            assert problems == []
        finally:
            browser.close()
