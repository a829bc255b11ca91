"""pix2pix and CycleGAN: net shapes, PatchGAN's receptive field, the image pool, the losses against
hand cases, the paired readers' errors, and `gankit translate`."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from gankit.cli import main
from gankit.configure import load_config, refuse_unread
from gankit.data import Dataset, load_dataset
from gankit.data.pairs import read_paired_folder, unpaired_partners
from gankit.errors import UserError
from gankit.nets import PatchDiscriminator, ResnetGenerator, UNetGenerator, receptive_field
from gankit.recipes import Batch, build_recipe
from gankit.recipes.cyclegan import ImagePool


@pytest.mark.parametrize("side", [32, 64, 128, 256])
def test_unet_patchgan_and_resnet_shapes(side):
    x = torch.randn(2, 1, side, side)
    assert UNetGenerator(1, 3, width=4, depth=5)(x).shape == (2, 3, side, side)
    # C64-C128-C256 of stride 2, C512 and the 1-channel output of stride 1: side / 8 - 2 patches a side.
    assert PatchDiscriminator(4, width=4, layers=3)(torch.randn(2, 4, side, side)).shape == (2, 1, side // 8 - 2, side // 8 - 2)
    assert ResnetGenerator(1, 1, width=4, blocks=1)(x).shape == (2, 1, side, side)


def test_unet_takes_non_square_multiples_of_its_stride_and_drops_out_in_its_inner_decoder():
    g = UNetGenerator(3, 3, width=4, depth=8)
    assert g.stride == 256 and g(torch.randn(1, 3, 256, 512)).shape == (1, 3, 256, 512)
    dropouts = [i for i, stage in enumerate(g.up) if any(isinstance(m, nn.Dropout) for m in stage)]
    assert dropouts == [1, 2, 3]  # the paper's three, next to the innermost stage


def test_patchgan_receptive_field_is_70_by_the_gradient_of_one_output():
    assert [receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]
    torch.manual_seed(0)
    d = PatchDiscriminator(3, width=8, layers=3).eval()  # eval: batch norm no longer mixes pixels
    x = torch.randn(1, 3, 160, 160, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


def test_image_pool_fills_then_returns_half_from_its_history():
    pool = ImagePool(50, seed=0)
    first = torch.arange(50.0).view(50, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: every image is returned as it is, and kept
    assert torch.equal(pool.images, first)
    new = 1000 + torch.arange(4000.0).view(4000, 1, 1, 1)
    returned = pool.query(new)
    swapped = returned.flatten() != new.flatten()
    assert 0.47 < swapped.float().mean() < 0.53  # half from the pool once full
    # A returned old image left the pool and the new one took its place: images are never lost or doubled.
    held = set(pool.images.flatten().tolist())
    given = set(returned.flatten().tolist())
    everything = set(first.flatten().tolist()) | set(new.flatten().tolist())
    assert len(held) == 50 and held.isdisjoint(given) and held | given == everything
    assert torch.equal(ImagePool(0).query(new), new)


class _Affine(nn.Module):
    def __init__(self, scale: float, shift: float):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x):
        return self.scale * x + self.shift


def _pairs_data(n: int, ca: int, cb: int, side: int = 16) -> Dataset:
    return Dataset(pixels=torch.rand(n, ca + cb, side, side) * 2 - 1, labels=None, num_classes=0, name="pairs",
                   resolution=side, channels=ca + cb)


def test_cycle_and_identity_losses_against_hand_values():
    cfg = load_config("cyclegan-digits", ["translation.adv_weight=0", "translation.blocks=1", "model.g_width=4",
                                          "translation.semantic_weight=0"])  # the data below have no labels
    data = _pairs_data(4, 1, 1)
    recipe = build_recipe(cfg, data)
    recipe.G["AB"], recipe.G["BA"] = _Affine(0.5, 0.0), _Affine(1.0, 0.25)  # G(a) = a/2, F(b) = b + 1/4
    batch = Batch(real=data.pixels, labels=None, z=data.pixels, fake_labels=None)
    loss, stats = recipe.g_loss(batch, recipe.fakes_for_g(batch))
    a, b = data.pixels[:, :1], data.pixels[:, 1:]
    cycle = (a / 2 + 0.25 - a).abs().mean() + ((b + 0.25) / 2 - b).abs().mean()  # |F(G(a)) - a| + |G(F(b)) - b|
    identity = (b / 2 - b).abs().mean() + 0.25  # |G(b) - b| + |F(a) - a|
    assert stats["loss_cycle"].item() == pytest.approx(cycle.item(), rel=1e-5)
    assert stats["loss_identity"].item() == pytest.approx(identity.item(), rel=1e-5)
    assert loss.item() == pytest.approx(10 * cycle.item() + 0.5 * 10 * identity.item(), rel=1e-5)
    assert "loss_adv" not in stats and recipe.d_loss(batch, recipe.fakes_for_g(batch)) == (None, {})


class _MeanLogits(nn.Module):
    """Two class logits from an image: (mean, -mean)."""

    def forward(self, x):
        m = x.mean((1, 2, 3))
        return torch.stack([m, -m], 1)


def test_semantic_loss_reads_each_translation_with_its_domains_classifier_against_the_source_label(monkeypatch):
    from gankit.recipes import cyclegan

    monkeypatch.setattr(cyclegan, "READER_STEPS", 1)  # the readers fitted are replaced by hand-made ones
    monkeypatch.setattr(cyclegan, "_jitter", lambda x, generator=None: x)  # which read the translations unmoved
    cfg = load_config("cyclegan-digits", ["translation.adv_weight=0", "translation.identity=0", "translation.blocks=1",
                                          "model.g_width=4", "translation.semantic_weight=0.5"])
    data = _pairs_data(4, 1, 1)
    data.labels, data.num_classes = torch.tensor([[0, 1], [1, 1], [0, 0], [1, 0]]), 2
    recipe = build_recipe(cfg, data)
    recipe.G["AB"], recipe.G["BA"] = _Affine(0.5, 0.0), _Affine(1.0, 0.25)
    recipe.readers["A"], recipe.readers["B"] = nn.ModuleList([_MeanLogits()]), nn.ModuleList([_MeanLogits()])
    batch = Batch(real=data.pixels, labels=data.labels, z=data.pixels, fake_labels=None)
    loss, stats = recipe.g_loss(batch, recipe.fakes_for_g(batch))
    a, b = data.pixels[:, :1], data.pixels[:, 1:]

    def ce(images, labels):  # by hand: logits (m, -m), so p(class 0) = sigmoid(2m)
        m = images.mean((1, 2, 3))
        p0 = torch.sigmoid(2 * m)
        return -torch.where(labels == 0, p0, 1 - p0).log().mean()

    semantic = ce(a / 2, data.labels[:, 0]) + ce(b + 0.25, data.labels[:, 1])  # C_B(G(a)) vs y_a, C_A(F(b)) vs y_b
    assert stats["loss_semantic"].item() == pytest.approx(semantic.item(), rel=1e-5)
    assert loss.item() == pytest.approx(10 * stats["loss_cycle"].item() + 0.5 * semantic.item(), rel=1e-5)


def test_semantic_readers_are_fitted_deterministically_and_leave_the_random_state_alone(monkeypatch):
    from gankit.recipes import cyclegan
    from gankit.recipes.cyclegan import fit_reader

    monkeypatch.setattr(cyclegan, "READER_STEPS", 60)

    gen = torch.Generator().manual_seed(0)
    y = torch.arange(64) % 2
    x = torch.rand(64, 1, 16, 16, generator=gen) * 0.4 - 1
    x[y == 1, :, 4:12, 6:10] = 1.0  # class 1: a bar of ink in the middle; class 0: blank
    before = torch.get_rng_state()
    first, second = fit_reader(x, y, 2, seed=3), fit_reader(x, y, 2, seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), second.parameters()))
    assert not any(p.requires_grad for p in first.parameters())
    with torch.no_grad():
        assert torch.equal(first(x).argmax(1), y)


def test_semantic_loss_needs_both_domains_labelled_alike(tmp_path):
    with pytest.raises(UserError, match="translation.semantic_weight.*no labels shared by A and B"):
        build_recipe(load_config("cyclegan-digits", ["translation.semantic_weight=1"]), _pairs_data(4, 1, 1))
    _class_folders(tmp_path / "data")
    (tmp_path / "data" / "B" / "light").rename(tmp_path / "data" / "B" / "bright")  # B's classes named otherwise
    cfg = load_config("cyclegan-digits", [f"data.source={tmp_path / 'data'}", "data.source_b=", "data.resolution=8",
                                          "translation.d_layers=1", "data.held_out=0", "translation.semantic_weight=1"])
    data = load_dataset(cfg.data)
    assert data.labels is None and data.num_classes == 0
    with pytest.raises(UserError, match="translation.semantic_weight"):
        build_recipe(cfg, data)
    with pytest.raises(UserError, match="translation.semantic_weight.*recipe 'pix2pix' does not use it"):
        refuse_unread(load_config("pix2pix-edges", ["translation.semantic_weight=1"]))
    with pytest.raises(UserError, match="translation.semantic_weight"):
        load_config("cyclegan-digits", ["translation.semantic_weight=-1"])


def test_pix2pix_loss_is_l1_weighted_plus_adversarial():
    cfg = load_config("pix2pix-edges", ["data.resolution=16", "translation.unet_depth=4", "translation.d_layers=1",
                                        "model.g_width=4", "model.d_width=4"])
    data = _pairs_data(4, 1, 3)
    recipe = build_recipe(cfg, data)
    recipe.G = _Affine(0.0, 0.5)
    batch = Batch(real=data.pixels, labels=None, z=data.pixels, fake_labels=None)
    fake = recipe.fakes_for_g(batch).expand(-1, 3, -1, -1)
    loss, stats = recipe.g_loss(batch, fake)
    l1 = (0.5 - data.pixels[:, 1:]).abs().mean()
    adv = nn.functional.softplus(-recipe.D(torch.cat([data.pixels[:, :1], fake], 1))).mean()  # nonsat: -log sigmoid
    assert stats["loss_l1"].item() == pytest.approx(l1.item(), rel=1e-5)
    assert loss.item() == pytest.approx(100 * l1.item() + adv.item(), rel=1e-5)


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_paired_folder_reader_names_a_lonely_file_and_resizes_both_sides(tmp_path):
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 255
    blue = np.zeros((20, 30, 3), np.uint8)
    blue[..., 2] = 255
    _save(tmp_path / "AB" / "A" / "x.png", red)
    _save(tmp_path / "AB" / "B" / "x.jpg", blue)  # matched by name, whatever the suffix and size
    a, b = read_paired_folder(tmp_path / "AB", 16, 3, 3)
    assert a.shape == b.shape == (1, 16, 16, 3)
    assert a[..., 0].min() == 255 and b[..., 2].min() > 240 and b[..., 0].max() < 15
    _save(tmp_path / "AB" / "A" / "y.png", red)
    with pytest.raises(UserError, match=r"A/y\.png: no partner named 'y' in '.*B'"):
        read_paired_folder(tmp_path / "AB", 16, 3, 3)
    _save(tmp_path / "AB" / "B" / "y.png", blue)
    _save(tmp_path / "AB" / "B" / "z.png", blue)
    with pytest.raises(UserError, match=r"B/z\.png: no partner named 'z' in '.*A'"):
        read_paired_folder(tmp_path / "AB", 16, 3, 3)


def test_side_by_side_files_split_in_halves_and_an_odd_width_is_refused(tmp_path):
    pair = np.zeros((10, 20, 3), np.uint8)
    pair[:, :10, 0] = 255  # A red, B green
    pair[:, 10:, 1] = 255
    _save(tmp_path / "sbs" / "p.png", pair)
    a, b = read_paired_folder(tmp_path / "sbs", 8, 1, 3)
    assert a.shape == (1, 8, 8, 1) and b.shape == (1, 8, 8, 3)
    assert abs(int(a[0, 4, 4, 0]) - round(0.299 * 255)) <= 1 and b[0, :, :, 1].min() == 255 and b[0, :, :, 0].max() == 0
    _save(tmp_path / "sbs" / "q.png", np.zeros((10, 21, 3), np.uint8))
    with pytest.raises(UserError, match=r"q\.png: an A\|B pair must have an even width"):
        read_paired_folder(tmp_path / "sbs", 8, 1, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no paired images"):
        read_paired_folder(tmp_path / "empty", 8, 1, 3)


def test_unpaired_sets_stack_with_every_image_of_the_larger_set_once():
    for n_a, n_b in ((7, 3), (3, 7)):
        ia, ib = unpaired_partners(n_a, n_b)
        assert len(ia) == len(ib) == 7
        larger, smaller = (ia, ib) if n_a > n_b else (ib, ia)
        assert sorted(larger.tolist()) == list(range(7))
        assert sorted(np.bincount(smaller.numpy()).tolist()) == [2, 2, 3]


def _class_folders(root, side=8):
    """A/ and B/ with the classes 'dark' and 'light' as sub-folders: an image's value tells its class
    (A: 10 dark, 6 light; B: 3 and 5)."""
    for domain, counts in (("A", (10, 6)), ("B", (3, 5))):
        for name, value, count in (("dark", 40, counts[0]), ("light", 220, counts[1])):
            for i in range(count):
                _save(root / domain / name / f"{i}.png", np.full((side, side), value + i, np.uint8))


def test_unpaired_class_folders_keep_both_labels_and_hold_out_images_of_each_domain(tmp_path):
    _class_folders(tmp_path / "data")
    cfg = load_config("cyclegan-digits", [f"data.source={tmp_path / 'data'}", "data.source_b=", "data.resolution=8",
                                          "translation.d_layers=1", "data.held_out=2"])
    data = load_dataset(cfg.data)
    held = load_dataset(cfg.data, held_out=True)
    assert data.num_classes == 2 and data.labels.shape == (14, 2) and held.labels.shape == (2, 2)
    for d in (data, held):
        x = d.floats()
        for side in (0, 1):  # light images are brighter than 0 in [-1, 1], dark ones below it
            assert torch.equal((x[:, side].mean((1, 2)) > 0).long(), d.labels[:, side])
    train_a, held_a = {round(v, 4) for v in data.floats()[:, 0, 0, 0].tolist()}, set(held.floats()[:, 0, 0, 0].tolist())
    assert len(train_a) == 14 and not train_a & {round(v, 4) for v in held_a}  # every A image once, none in both
    assert len({round(v, 4) for v in data.floats()[:, 1, 0, 0].tolist()}) == 6  # B: 8 less 2 held out, repeated
    with pytest.raises(UserError, match="data.held_out.*cannot be held out of data '.*B'"):
        load_dataset(load_config("cyclegan-digits", [f"data.source={tmp_path / 'data'}", "data.source_b=", "data.resolution=8",
                                                     "translation.d_layers=1", "data.held_out=8"]).data)


def test_data_and_recipes_refuse_each_others_kinds():
    with pytest.raises(UserError, match="data.pairs.*pix2pix learns from paired data"):
        build_recipe(load_config("pix2pix-edges", ["data.pairs=unpaired"]), _pairs_data(2, 1, 3, 64))
    with pytest.raises(UserError, match="recipe 'gan' learns from single images"):
        build_recipe(load_config("dcgan-mnist", ["data.pairs=unpaired", "data.source_b=digits"]), _pairs_data(2, 1, 1))
    with pytest.raises(UserError, match="data 'photo-edges': a paired image-to-image task; set data.pairs"):
        load_dataset(load_config("dcgan-mnist", ["data.source=photo-edges"]).data)
    with pytest.raises(UserError, match="needs a multiple of 64, got 48"):
        load_config("pix2pix-edges", ["data.resolution=48"])
    with pytest.raises(UserError, match="translation.d_layers.*at least 24 pixels, got data.resolution=16"):
        load_config("pix2pix-edges", ["data.resolution=16", "translation.unet_depth=4"])
    with pytest.raises(UserError, match="translation.identity.*equal channels"):
        build_recipe(load_config("cyclegan-digits", ["data.channels_b=3"]), _pairs_data(2, 1, 3))
    with pytest.raises(UserError, match="evaluation.every.*do not apply to cyclegan"):
        load_config("cyclegan-digits", ["evaluation.every=100"])
    with pytest.raises(UserError, match="unpaired data need a folder with A/ and B/"):
        load_dataset(load_config("cyclegan-digits", ["data.source_b="]).data)


@pytest.fixture(scope="module")
def pix2pix_run(tmp_path_factory):
    from gankit.train.loop import train

    root = tmp_path_factory.mktemp("p2p")
    rng = np.random.default_rng(0)
    for i in range(8):
        b = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        _save(root / "data" / "A" / f"{i}.png", b.mean(2).astype(np.uint8))
        _save(root / "data" / "B" / f"{i}.png", b)
    cfg = load_config("pix2pix-colorize", [f"data.source={root / 'data'}", "data.resolution=16", "translation.unet_depth=4",
                                           "translation.d_layers=1", "model.g_width=4", "model.d_width=4", "optim.batch_size=4", "train.steps=2",
                                           "train.log_every=1", "train.sample_every=2", "train.checkpoint_every=2",
                                           "train.grid_size=2"])
    return train(cfg, root / "run", progress=False)


def test_pix2pix_trains_grids_show_input_output_target_and_translate_keeps_names_and_sizes(pix2pix_run, tmp_path):
    run = pix2pix_run
    grid = Image.open(run.dir / "samples" / "step_000002.png")
    assert grid.size == (2 + 2 * (3 * 16 + 2), 2 + 16 + 2)  # two examples of input | output | target
    assert "each example is input | G(input) | target" in (run.dir / "report.html").read_text()
    rng = np.random.default_rng(1)
    (tmp_path / "in" / "sub").mkdir(parents=True)
    _save(tmp_path / "in" / "sub" / "odd.png", rng.integers(0, 256, (45, 70, 3), dtype=np.uint8))  # not a multiple of 16
    _save(tmp_path / "one.jpg", rng.integers(0, 256, (20, 20), dtype=np.uint8))
    np.savez(tmp_path / "batch.npz", images=rng.integers(0, 256, (3, 16, 24, 1), dtype=np.uint8), labels=np.arange(3))
    args = ["translate", str(run.dir), str(tmp_path / "in"), str(tmp_path / "one.jpg"), str(tmp_path / "batch.npz"),
            "--out", str(tmp_path / "out"), "--tile", "32", "--quiet"]
    assert main(args) == 0
    odd = Image.open(tmp_path / "out" / "sub" / "odd.png")
    assert odd.mode == "RGB" and odd.size == (70, 45)
    assert Image.open(tmp_path / "out" / "one.jpg").size == (20, 20)
    with np.load(tmp_path / "out" / "batch.npz") as z:
        assert z["images"].shape == (3, 16, 24, 3) and z["images"].dtype == np.uint8 and z["labels"].tolist() == [0, 1, 2]


def test_translate_cli_errors(pix2pix_run, tiny_cfg, tmp_path, capsys):
    from gankit.train.loop import train

    _save(tmp_path / "x.png", np.zeros((8, 8), np.uint8))
    out = str(tmp_path / "out")
    assert main(["translate", str(pix2pix_run.dir), str(tmp_path / "x.png"), "--out", out, "--direction", "b2a"]) == 2
    assert "--direction b2a" in capsys.readouterr().err and not (tmp_path / "out").exists()
    dcgan = train(tiny_cfg, tmp_path / "dcgan", progress=False)
    assert main(["translate", str(dcgan.dir), str(tmp_path / "x.png"), "--out", out]) == 2
    assert "is a 'gan' run, not an image-to-image model" in capsys.readouterr().err
    assert main(["translate", str(pix2pix_run.dir), str(tmp_path / "missing.png"), "--out", out]) == 2
    assert "input '" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert main(["translate", str(pix2pix_run.dir), str(tmp_path / "notes.txt"), "--out", out]) == 2
    assert main(["translate", str(pix2pix_run.dir), str(tmp_path / "x.png"), "--out", str(tmp_path / "notes.txt")]) == 2
    assert not (tmp_path / "out").exists()
    assert main(["sample", str(pix2pix_run.dir), "-n", "2", "--out", str(tmp_path / "s.png")]) == 2
    assert "use 'gankit translate" in capsys.readouterr().err


def test_cyclegan_trains_resumes_its_pools_and_translates_both_ways(tmp_path, monkeypatch):
    from gankit.recipes import cyclegan
    from gankit.train.loop import resume, train

    monkeypatch.setattr(cyclegan, "READER_STEPS", 10)  # the label-keeping readers: fitted, and resumed
    tiny = ["data.limit=32", "model.g_width=4", "model.d_width=4", "translation.blocks=1", "optim.batch_size=4",
            "translation.pool_size=6", "train.log_every=1", "train.sample_every=2", "train.checkpoint_every=2",
            "train.grid_size=2", "translation.semantic_weight=1", "optim.lr_decay=0"]  # no decay: 2 + 1 steps = 3
    run = train(load_config("cyclegan-digits", [*tiny, "train.steps=2"]), tmp_path / "run", progress=False)
    assert run.recipe.pools["A"].count == 6 and run.recipe.pools["B"].count == 6
    again = resume(tmp_path / "run", progress=False, steps=3)
    assert again.step == 3 and again.recipe.pools["A"].count == 6
    whole = train(load_config("cyclegan-digits", [*tiny, "train.steps=3"]), tmp_path / "whole", progress=False)
    for name, module in whole.recipe.modules().items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, again.recipe.modules()[name].state_dict()[key]), (name, key)
    assert "loss_semantic" in (tmp_path / "run" / "metrics.jsonl").read_text()
    grid = Image.open(run.dir / "samples" / "step_000002.png")
    assert grid.size == (2 + 2 * (6 * 32 + 2), 2 + 32 + 2)  # a | G(a) | F(G(a)) | b | F(b) | G(F(b))
    _save(tmp_path / "d.png", np.zeros((30, 30), np.uint8))
    for direction in ("a2b", "b2a"):
        assert main(["translate", str(run.dir), str(tmp_path / "d.png"), "--out", str(tmp_path / direction),
                     "--direction", direction, "--quiet"]) == 0
        assert Image.open(tmp_path / direction / "d.png").size == (30, 30)


def test_colourfulness_and_gradient_energy_against_hand_values():
    from gankit.sr import colourfulness, gradient_energy

    grey = np.full((4, 4, 3), 77, np.uint8)
    assert colourfulness(grey) == 0.0 and gradient_energy(grey) == 0.0
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 100  # rg = 100 and yb = 50 everywhere: no spread, mean term 0.3 * sqrt(100^2 + 50^2)
    assert colourfulness(red) == pytest.approx(0.3 * np.hypot(100, 50))
    half = np.zeros((2, 2, 3), np.uint8)
    half[0, 0] = (100, 0, 0)  # rg over the 4 pixels: 100, 0, 0, 0 (variance 1875, mean 25); yb half of it
    assert colourfulness(half) == pytest.approx(np.sqrt(1875 + 1875 / 4) + 0.3 * np.hypot(25, 12.5))
    stripes = np.zeros((3, 3, 1), np.uint8)
    stripes[:, 1] = 10  # across: 10 then -10; down: 0; the 2 x 2 pixels with both neighbours: 100 each
    assert gradient_energy(stripes) == pytest.approx(100.0)
