"""`gankit bench modes` machinery on a short plain-GAN run on `ring`."""

import json

import numpy as np
import pytest

from gankit.bench import modes
from gankit.cli import main
from gankit.data.toy import MIXTURES
from gankit.metrics import METRICS, Metric


def _nearest_mode_stats(ctx):  # an oracle for the test when the families' metric is not installed
    means, std = MIXTURES[ctx.dataset]
    d = np.linalg.norm(ctx.fake.numpy()[:, None] - means[None], axis=2)
    hq = d.min(1) <= 3 * std
    counts = np.bincount(d.argmin(1)[hq], minlength=len(means))
    p = counts[counts > 0] / max(counts.sum(), 1)
    return {"modes": int((counts > 0).sum()), "hq": float(hq.mean()),
            "reverse_kl": float((p * np.log(p * len(means))).sum()) if hq.any() else float("inf")}


@pytest.fixture
def mixture_metric(monkeypatch):
    if "mixture" not in METRICS:
        monkeypatch.setitem(METRICS, "mixture", Metric(_nearest_mode_stats, "test oracle", {"modes": "max"}))


def test_bench_modes_quick_table(tmp_path, capsys, mixture_metric, monkeypatch):
    monkeypatch.setitem(modes.SETS, "ring", 500)
    assert main(["bench", "modes", "--sets", "ring", "--methods", "GAN", "--seeds", "2", "--steps", "30",
                 "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "| ring | GAN | 2 x 500 | 30 |" in out and "6.3±0.5 / 98.2±0.2 / 0.45±0.09" in out
    res = json.loads((tmp_path / "b" / "results.json").read_text())
    row = res["rows"][0]
    assert 0 <= row["modes"][0] <= 8 and 0 <= row["hq"][0] <= 100 and row["kl"][0] >= 0 and row["kl"][1] >= 0
    assert (tmp_path / "b" / "ring" / "GAN" / "seed1" / "checkpoints" / "last.safetensors").exists()
    assert main(["bench", "modes", "--sets", "moon"]) == 2
    assert main(["bench", "modes", "--methods", "GAN,nope"]) == 2


def test_plain_gan_switches_every_remedy_of_the_toy_presets_off():
    from gankit.configure import load_config

    for preset in ("ring", "grid"):
        shipped, plain = load_config(preset), load_config(preset, modes.PLAIN)
        assert shipped.remedies.pack > 1 or shipped.remedies.minibatch_disc > 0, preset  # a remedy to switch off
        r, p = plain.remedies, plain.penalty
        assert (r.pack, r.minibatch_disc, r.mbstd, r.unrolled_steps, r.ema) == (1, 0, False, 0, 0.0), preset
        assert (p.r1_gamma, p.gp_weight) == (0.0, 0.0), preset
        assert plain.model == shipped.model and plain.optim == shipped.optim, preset  # same nets and optimiser


def test_pack_sizes_fit_the_batch():
    assert modes._fit_batch(["remedies.pack=3"], 64) == ["remedies.pack=3", "optim.batch_size=63"]
    assert modes._fit_batch(["remedies.pack=4"], 64) == ["remedies.pack=4"]


def test_speed_bench_times_both_loops_on_the_same_nets():
    import torch

    from gankit.bench.speed import bench_preset, count_gflop, format_table

    dev = torch.device("cpu")
    row = bench_preset("cgan-mnist", dev, iters=1, repeats=1,
                       overrides=["model.g_width=8", "model.d_width=8", "data.limit=256", "optim.batch_size=16"])
    assert row.gankit_ips > 0 and row.reference_ips > 0 and row.gflop_per_iter > 0
    assert row.gflops > 0 and len(row.ratios) == 1 and row.ratio == row.ratios[0]
    assert row.ratio == pytest.approx(row.gankit_ips / row.reference_ips)  # one repeat: the medians' ratio
    table = format_table([row], {"peak": 100.0, "matmul": 50.0, "conv": 100.0}, dev).splitlines()[-1].split()
    assert table[0] == "cgan-mnist" and table[7:9] == [f"{2 * row.gflops:.1f}%", f"{row.gflops:.1f}%"]  # % of each peak
    # The ratio is the median of the per-repeat pairs, its range their extremes.
    row.ratios = [1.1, 1.4, 1.2]
    assert row.ratio == 1.2 and format_table([row], {"peak": 1.0, "matmul": 1.0}, dev).splitlines()[-1].split()[3:5] == ["1.20", "1.10-1.40"]
    # The flop counter sees exactly a matrix product's 2*m*n*k multiply-adds.
    a, b = torch.randn(64, 32), torch.randn(32, 16)
    assert abs(count_gflop(lambda: a @ b, dev) - 2 * 64 * 32 * 16 / 1e9) < 1e-12


def test_speed_bench_counts_onednn_products_and_runs_the_reference_on_plain_copies():
    import torch

    from gankit.bench.speed import _plain_copy, count_gflop
    from gankit.configure import load_config
    from gankit.recipes.nets import build_nets
    from gankit.accel.linear import onednn_linear, use_onednn

    x, w = torch.randn(64, 512, requires_grad=True), torch.randn(256, 512, requires_grad=True)
    # forward, input gradient and weight gradient: three products of 2*m*n*k
    assert count_gflop(lambda: onednn_linear(x, w).sum().backward(), torch.device("cpu")) * 1e9 == 3 * 2 * 64 * 512 * 256
    _, D = build_nets(load_config("vanilla-mnist"), (1, 28, 28))
    assert use_onednn(D) == 2
    ref = _plain_copy(D)
    assert not any(getattr(m, "onednn", False) for m in ref.modules())
    assert sum(getattr(m, "onednn", False) for m in D.modules()) == 2  # the original keeps its switch

    from gankit.accel.thin_conv import ConvTranspose2d, use_product_path
    G, _ = build_nets(load_config("dcgan-mnist"), (1, 28, 28))
    assert use_product_path(G) == 1
    assert not any(getattr(m, "product_path", False) for m in _plain_copy(G).modules())
    convt, h = ConvTranspose2d(64, 1, 4, 2, 1), torch.randn(8, 64, 14, 14, requires_grad=True)
    flops = []
    for on in (False, True):  # the product path counts the very flops of the convolution it replaces
        convt.product_path = on
        flops.append(count_gflop(lambda: convt(h).square().sum().backward(), torch.device("cpu")))
    assert flops[0] == flops[1] > 0


def test_peak_is_the_better_of_the_matmul_and_the_convolution_with_the_conv_flops_as_torch_counts_them():
    import torch
    import torch.nn.functional as F

    from gankit.bench.speed import count_gflop, measured_peak_gflops

    dev = torch.device("cpu")
    peaks = measured_peak_gflops(dev, reps=1)
    assert peaks["peak"] == max(peaks["matmul"], peaks["conv"]) > 0
    x, w = torch.randn(128, 128, 28, 28), torch.randn(128, 128, 4, 4)  # the peak's convolution
    assert count_gflop(lambda: F.conv2d(x, w, stride=2, padding=1), dev) * 1e9 == 2 * 128 * 14 * 14 * 128 * 128 * 16


def test_speed_bench_counts_a_step_with_a_gradient_penalty():
    # WGAN-GP differentiates through a gradient: the count must survive the double backward.
    import torch

    from gankit.bench.speed import bench_preset

    row = bench_preset("wgangp-mnist", torch.device("cpu"), iters=1, repeats=1,
                       overrides=["model.g_width=8", "model.d_width=8", "data.limit=256", "optim.batch_size=16",
                                  "optim.d_steps=1"])
    assert row.gflop_per_iter > 0 and row.gankit_ips > 0


def test_bench_modes_flags_are_checked(capsys):
    from gankit.cli import main

    assert main(["bench", "modes", "--quick", "--methods", "Magic"]) == 2
    assert "unknown method 'Magic'" in capsys.readouterr().err
    assert main(["bench", "modes", "--quick", "--seeds", "0"]) == 2  # reads the quick settings first
    assert "--seeds must be at least 1" in capsys.readouterr().err
    assert main(["bench", "speed", "--presets", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert main(["bench", "speed", "--presets", "dcgan-mnist,srgan"]) == 2  # refused before anything is timed
    assert "'srgan' is a 'srgan' preset; the reference loops time the recipes gan, stylegan2" in capsys.readouterr().err


def test_the_quality_race_reference_is_the_textbook_dcgan_whatever_the_preset_adds():
    from gankit.bench.speed import classic_dcgan_config
    from gankit.configure import load_config

    preset = load_config("dcgan-mnist")
    assert preset.penalty.r1_gamma > 0 and preset.remedies.ema > 0  # what the classic run must not inherit
    c = classic_dcgan_config()
    assert (c.model.arch, c.model.z_dim, c.model.g_width, c.model.d_width) == ("dcgan", 100, 64, 64)
    assert (c.optim.batch_size, c.optim.lr_g, c.optim.lr_d, c.optim.betas_d) == (64, 2e-4, 2e-4, (0.5, 0.999))
    assert c.penalty.r1_gamma == c.penalty.gp_weight == c.remedies.ema == c.optim.lr_decay == 0


def test_speed_bench_averages_a_lazy_r1_over_its_cycle():
    # R1 on every 4th D update: a quarter of the extra work of R1 on every update, per iteration.
    import torch

    from gankit.bench.speed import bench_preset

    tiny = ["model.g_width=8", "model.d_width=8", "data.limit=256", "optim.batch_size=16"]

    def gflop(*penalty):
        return bench_preset("dcgan-mnist", torch.device("cpu"), iters=1, repeats=1,
                            overrides=[*tiny, *penalty]).gflop_per_iter

    plain, every, lazy = gflop("penalty.r1_gamma=0"), gflop("penalty.r1_every=1"), gflop("penalty.r1_every=4")
    assert every > plain
    assert abs(lazy - (plain + (every - plain) / 4)) < 1e-9 * every


def test_speed_bench_times_stylegan2_against_a_plain_loop_with_the_same_lazy_regularisers():
    import torch

    from gankit.bench.speed import StyleGAN2ReferenceLoop, bench_preset, count_gflop, schedule_cycle
    from gankit.configure import load_config
    from gankit.data import load_dataset
    from gankit.recipes.stylegan2 import StyleGAN2Recipe

    tiny = ["model.z_dim=8", "stylegan2.w_dim=8", "stylegan2.mapping_layers=2", "stylegan2.channel_base=64",
            "stylegan2.channel_max=8", "optim.batch_size=8", "data.limit=64", "train.device=cpu"]
    # Whole cycles of both lazy regularisers are timed: 2 D updates for R1, 4 G updates for path length.
    assert schedule_cycle(load_config("stylegan2-mnist", tiny + ["penalty.r1_every=2"])) == 4
    row = bench_preset("stylegan2-mnist", torch.device("cpu"), iters=1, repeats=1,
                       overrides=tiny + ["penalty.r1_every=2", "stylegan2.pl_every=2"])
    assert row.gankit_ips > 0 and row.reference_ips > 0 and row.gflop_per_iter > 0
    cfg = load_config("stylegan2-mnist", tiny)
    data = load_dataset(cfg.data)
    recipe = StyleGAN2Recipe(cfg, data)
    ref = StyleGAN2ReferenceLoop(cfg, recipe.G, recipe.D, data.floats())
    # Update 0 runs R1 (every 16th D update) and path length (every 4th G update); update 1 neither.
    first, second = count_gflop(ref.train_step, torch.device("cpu")), count_gflop(ref.train_step, torch.device("cpu"))
    assert first > 1.5 * second and ref.pl_mean > 0 and ref.g_updates == 2


def test_write_docs_keeps_one_section_per_instruction_set(tmp_path, monkeypatch):
    """--write-docs replaces its own device's section between the marker lines and keeps the others;
    a marker quoted inside a sentence is not a marker."""
    import torch

    from gankit.bench import docs
    from gankit.bench.docs import write_section
    from gankit.errors import UserError

    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nTables below `<!-- bench:begin -->` are generated.\n\n<!-- bench:begin -->\n"
                   "<!-- bench:end -->\n\n## By hand\nkept\n")
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(docs, "cpu_model", lambda: "AMD EPYC")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    write_section(doc, cpu, "first avx512 table")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    write_section(doc, cpu, "avx2 table")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    write_section(doc, cpu, "second avx512 table")
    monkeypatch.setattr(docs, "cpu_model", lambda: "Intel Xeon")  # another CPU model: a section of its own
    write_section(doc, cpu, "xeon table")
    text = doc.read_text()
    assert text.count("### cpu: AMD EPYC, oneDNN ISA avx512\n") == 1
    assert "### cpu: AMD EPYC, oneDNN ISA avx2 (ONEDNN_MAX_CPU_ISA=AVX2)" in text
    assert "second avx512 table" in text and "first avx512 table" not in text and "avx2 table" in text
    assert text.count("### cpu: Intel Xeon, oneDNN ISA avx512\n") == 1 and "xeon table" in text
    assert text.index("<!-- bench:begin -->\n") < text.index("### cpu") < text.index("<!-- bench:end -->")
    assert text.startswith("# Performance\n\nTables below `<!-- bench:begin -->`") and text.endswith("## By hand\nkept\n")
    assert "torch " + torch.__version__ in text
    (tmp_path / "plain.md").write_text("# no markers\n")
    with pytest.raises(UserError, match="expected one '<!-- bench:begin -->' line"):
        write_section(tmp_path / "plain.md", cpu, "x")
    assert (tmp_path / "plain.md").read_text() == "# no markers\n"


def test_kernel_choices_follow_onednns_and_mkls_instruction_sets(monkeypatch):
    """oneDNN's linear layers where oneDNN runs AVX-512 and MKL does not (an AMD CPU, or MKL capped to
    AVX2); MKL's where both run one width (AVX2 both, or an Intel CPU with AVX-512 both). The thin
    convolutions' product path everywhere."""
    import torch

    from gankit import accel
    from gankit.accel import ConvTranspose2d, cpu_isa, kernel_table, mkl_isa, use_cpu_kernels
    from gankit.configure import load_config
    from gankit.recipes.nets import build_nets

    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    for var in ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS"):
        monkeypatch.delenv(var, raising=False)
    assert cpu_isa() == "avx512"
    for cap, isa in (("AVX2", "avx2"), ("avx512_core", "avx512"), ("SSE41", "avx2"), ("AVX10_1_512", "avx512")):
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert cpu_isa() == isa, cap
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setattr(accel, "cpu_vendor", lambda: "AuthenticAMD")
    assert (mkl_isa(), kernel_table()) == ("avx2", "onednn-wider")  # MKL runs AVX2 code on AMD
    monkeypatch.setattr(accel, "cpu_vendor", lambda: "GenuineIntel")
    assert (mkl_isa(), kernel_table()) == ("avx512", "same-width")
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    assert (mkl_isa(), kernel_table()) == ("avx2", "onednn-wider")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # the AVX2 emulation caps both
    assert (cpu_isa(), kernel_table()) == ("avx2", "same-width")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.delenv("MKL_ENABLE_INSTRUCTIONS")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert (cpu_isa(), mkl_isa(), kernel_table()) == ("avx2", "avx2", "same-width")
    vanilla = build_nets(load_config("vanilla-mnist"), (1, 28, 28))
    dcgan = build_nets(load_config("dcgan-mnist"), (1, 28, 28))
    assert use_cpu_kernels([*vanilla, *dcgan], table="onednn-wider") == {"linear": 4, "thin_conv": 2}
    assert use_cpu_kernels([*vanilla, *dcgan], table="same-width") == {"linear": 0, "thin_conv": 2}
    assert [type(m) for m in dcgan[0].modules() if getattr(m, "product_path", False)] == [ConvTranspose2d]
    assert not any(getattr(m, "onednn", False) for m in vanilla[1].modules())
    assert use_cpu_kernels([*vanilla, *dcgan], linear=False, thin_conv=False) == {"linear": 0, "thin_conv": 0}


def test_the_kernel_table_times_each_path_and_says_where_it_is_used():
    import torch

    from gankit.bench.kernels import format_kernels, kernel_rows

    state = torch.get_rng_state()
    rows = kernel_rows(pairs=1, reps=1)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random stream is untouched
    assert len(rows) == 7 and all(r.speedup > 0 and r.spread[0] <= r.speedup <= r.spread[1] for r in rows)
    used = {table: {line[:42].strip(): line.split()[-1] for line in format_kernels(rows, table).splitlines()[2:]}
            for table in ("onednn-wider", "same-width")}
    assert used["onednn-wider"]["linear 128x100->512"] == "no"  # below MIN_FEATURES in every table
    assert used["onednn-wider"]["linear 128x256->1280"] == "yes" and used["same-width"]["linear 128x256->1280"] == "no"
    assert used["same-width"]["conv_t 64->1 4x4/2 at 14x14 (G's last)"] == "yes"
