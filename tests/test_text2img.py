"""Text-to-image: the caption writer and its attribute measures, the caption readers, the vocabulary's
unknown-word rule, the matching-aware D's three terms, the text encoder's pre-training (its joint
embedding's loss, matching pairs above mismatched, frozen in the GAN, kept by checkpoints and exact
resume), and `gankit sample --text` on a tiny run."""

import json
from collections import Counter
import math

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.config import DataConfig
from gankit.configure import load_config
from gankit.data import digit_captions as dc
from gankit.data import load_dataset
from gankit.data.captions import Vocabulary, read_captioned_folder, words
from gankit.errors import UserError
from gankit.objectives import LOSSES
from gankit.recipes import Batch, build_recipe
from gankit.recipes.text2img import augment_captions, joint_embedding_loss, matching_aware_d_loss, one_caption_each


def bar(width: int, lean: int = 0, top: int = 4, bottom: int = 24, left: int = 12) -> np.ndarray:
    """A hand-drawn stroke: `width` pixels wide from row `top` to `bottom`, its top moved right by `lean` pixels."""
    image = np.zeros((28, 28), np.float32)
    for r in range(top, bottom):
        shift = round(lean * (bottom - 1 - r) / (bottom - 1 - top))
        image[r, left + shift : left + shift + width] = 1.0
    return image


def test_thickness_is_stroke_width():
    thin, thick = dc.thickness(bar(1)), dc.thickness(bar(4))
    assert thin == pytest.approx(1.0, abs=0.1)  # a one-pixel line is its own skeleton
    assert 3.0 < thick < 5.0  # 80 ink pixels over a skeleton of about 20: the width 4, up to the ends
    assert dc.thickness(np.zeros((28, 28))) == 0.0


def test_slant_is_the_shear_of_the_stroke():
    assert dc.slant(bar(2)) == pytest.approx(0.0, abs=1e-9)  # upright
    right, left = dc.slant(bar(2, lean=10)), dc.slant(bar(2, lean=-10, left=16))
    assert right == pytest.approx(10 / 19, abs=0.03)  # 10 pixels right over 19 rows of height
    assert left == pytest.approx(-right, abs=0.03)


def test_size_is_the_bounding_box_area():
    assert dc.size(bar(3)) == 20 * 3
    assert dc.size(bar(3, lean=5)) == 20 * 8
    assert dc.size(np.zeros((28, 28))) == 0.0


def test_levels_are_terciles_and_size_is_within_each_digit():
    values = np.arange(9.0)
    assert dc.levels(values, dc.terciles(values)).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    digits = np.array([1, 1, 1, 8, 8, 8])
    measures = {"thickness": np.array([1, 2, 3, 4, 5, 6.0]), "slant": np.array([-1, 0, 1, -1, 0, 1.0]),
                "size": np.array([10, 20, 30, 100, 200, 300.0])}  # a large 1 is smaller than a small 8
    lv = dc.attribute_levels(measures, digits)
    assert lv["thickness"].tolist() == [0, 0, 1, 1, 2, 2]  # over all digits
    assert lv["size"].tolist() == [0, 1, 2, 0, 1, 2]  # within each digit


def test_caption_writer_phrasings():
    assert dc.write_caption(7, 2, 2, 1, dc.TEMPLATES[0]) == "a thick seven leaning right"
    assert dc.write_caption(7, 0, 1, 1, dc.TEMPLATES[1]) == "7, thin and upright"
    assert dc.write_caption(3, 1, 0, 2, dc.HELD_OUT) == "leaning left, large and normal: the digit three"
    assert dc.HELD_OUT not in dc.TEMPLATES
    # The held-out phrasing uses only words the training phrasings teach, so the model can read it.
    training = Vocabulary.from_captions([dc.write_caption(d, t, s, z, p) for d in range(10) for t in range(3)
                                         for s in range(3) for z in range(3) for p in dc.TEMPLATES])
    training.encode([dc.write_caption(d, 0, 1, 2, dc.HELD_OUT) for d in range(10)])


def test_digit_captions_describe_hand_drawn_digits():
    images = np.stack([bar(1), bar(1, lean=8), bar(4), bar(4, lean=-8, left=16), bar(2), bar(2, lean=4)])
    captions, lv = dc.digit_captions(images, np.ones(6, dtype=np.int64))
    assert lv["thickness"].tolist() == [0, 0, 2, 2, 1, 1]
    assert lv["slant"].tolist() == [1, 2, 1, 0, 1, 2]
    assert all(len(mine) == len(dc.TEMPLATES) for mine in captions)  # one caption per training phrasing
    assert all("thick" in words(c) and "left" in words(c) for c in captions[3])
    assert all("thin" in words(c) and "right" in words(c) for c in captions[1])
    assert all(("one" in words(c)) or ("1" in words(c)) for mine in captions for c in mine)
    assert len({tuple(words(c)) for c in captions[0]}) == len(dc.TEMPLATES)


def test_vocabulary_and_the_unknown_word_rule():
    vocab = Vocabulary.from_captions(["a thick seven", "7, thin"])
    assert vocab.words == ["7", "a", "seven", "thick", "thin"]
    tokens = vocab.encode(["a thick seven", "Thin, 7!"])
    assert tokens.tolist() == [[2, 4, 3], [5, 1, 0]]  # index 0 pads the shorter caption
    with pytest.raises(UserError, match=r"unknown word 'sevn' \(did you mean 'seven'\?"):
        vocab.encode(["a thick sevn"], "--text")
    with pytest.raises(UserError, match="has no words"):
        vocab.encode(["?!"])


def test_sentence_embedding_ignores_padding_and_sees_every_word():
    from gankit.nets import TextEncoder

    torch.manual_seed(0)
    encoder = TextEncoder(vocab_size=8, word_dim=4, dim=6)
    padded = encoder(torch.tensor([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]]))
    torch.testing.assert_close(padded[0], encoder(torch.tensor([[1, 2, 3]]))[0])
    torch.testing.assert_close(padded[1], encoder(torch.tensor([[4, 5]]))[0])
    # the first word still counts after five more (its outputs, both ways, are in the mean)
    a, b = encoder(torch.tensor([[1, 7, 7, 7, 7, 7], [2, 7, 7, 7, 7, 7]]))
    assert (a - b).abs().max() > 1e-2


def test_matching_aware_d_loss_against_hand_values():
    sp = lambda v: math.log1p(math.exp(v))  # softplus
    real_right, real_wrong, fake_right = torch.tensor([2.0]), torch.tensor([-1.0]), torch.tensor([0.5])
    loss = matching_aware_d_loss(LOSSES["nonsat"], real_right, real_wrong, fake_right)
    assert loss.item() == pytest.approx(sp(-2.0) + 0.5 * (sp(-1.0) + sp(0.5)))
    # hinge: max(0, 1 - 2) + (max(0, 1 - 1) + max(0, 1 + 0.5)) / 2
    assert matching_aware_d_loss(LOSSES["hinge"], real_right, real_wrong, fake_right).item() == pytest.approx(0.75)


def _captioned_folder(root, n=16):
    """n hand-drawn strokes, each captioned as a one or a seven of its width and lean."""
    root.mkdir()
    for i in range(n):
        width, lean = 1 + 2 * (i % 3), 6 * ((i // 3) % 3 - 1)
        Image.fromarray((bar(width, lean, left=12 - min(lean, 0)) * 255).astype(np.uint8)).save(root / f"d{i:02d}.png")
        (root / f"d{i:02d}.txt").write_text(dc.write_caption(1 if (i // 2) % 2 else 7, i % 3, (i // 3) % 3, 1, dc.TEMPLATES[i % 4]))
    return root


def _text_cfg(source, *extra):
    return load_config("text-mnist", [f"data.source={source}", "model.g_width=8", "model.d_width=8", "model.z_dim=8",
                                      "text.word_dim=8", "text.embed_dim=8", "text.compressed=4", "optim.batch_size=8",
                                      "train.steps=4", "train.log_every=2", "train.sample_every=4",
                                      "train.checkpoint_every=4", "train.grid_size=4", "text.pretrain_steps=8", *extra])


@pytest.mark.parametrize("spectral_norm", [True, False])
def test_recipe_d_loss_pairs_real_wrong_and_fake_texts(tmp_path, spectral_norm):
    """D scores (x, right text), (x, wrong text), (G(z), its text): in one pass without batch norm,
    with it in a pass over the real pairs and one over the fakes (the statistics G's step sees)."""
    folder = _captioned_folder(tmp_path / "c")
    data = load_dataset(DataConfig(source=str(folder)))
    # the captions as they are (the preset swaps words of training captions, drawn in d_loss)
    recipe = build_recipe(_text_cfg(str(folder), f"model.spectral_norm={str(spectral_norm).lower()}", "text.word_swaps=0"), data)
    assert recipe.joint_d == spectral_norm
    if spectral_norm:  # no power iteration between the passes compared
        recipe.D.eval()
    gen = torch.Generator().manual_seed(0)
    assert recipe.caption_table.shape[:2] == (16, 1)  # one caption per image: nothing is drawn
    batch = Batch(real=data.take(torch.arange(4)), labels=recipe.caption_table[:4], z=recipe.sample_z(4, gen),
                  fake_labels=recipe.tokens[4:8])
    fake = recipe.fakes_for_d(batch)
    loss, stats = recipe.d_loss(batch, fake)
    enc, D = recipe.encoder, recipe.D
    right, wrong = enc(batch.labels[:, 0]), enc(batch.fake_labels)
    if spectral_norm:  # no batch statistics: each pair scores alone
        real_right, real_wrong = D(batch.real, right), D(batch.real, wrong)
    else:
        real_right, real_wrong = D(torch.cat([batch.real, batch.real]), torch.cat([right, wrong])).split(4)
    expected = matching_aware_d_loss(LOSSES["nonsat"], real_right, real_wrong, D(fake, wrong))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert set(stats) == {"loss_d", "d_real", "d_wrong", "d_fake"}


def test_an_image_with_several_captions_draws_one_of_its_own_each_time(tmp_path):
    table = torch.tensor([[[1, 2, 0], [3, 0, 0], [0, 0, 0]],   # two captions
                          [[4, 0, 0], [0, 0, 0], [0, 0, 0]],   # one
                          [[5, 0, 0], [6, 6, 0], [7, 0, 0]]])  # three
    gen = torch.Generator().manual_seed(0)
    drawn = torch.stack([one_caption_each(table, gen) for _ in range(600)])  # (600, 3, L)
    for image, own in enumerate(table):
        own = [tuple(c) for c in own.tolist() if c[0]]
        counts = Counter(tuple(c) for c in drawn[:, image].tolist())
        assert set(counts) == set(own)  # only its own captions, never a padding row
        assert all(abs(k / 600 - 1 / len(own)) < 0.07 for k in counts.values())  # uniformly
    # the recipe's table from a folder whose text files hold two captions each
    folder = _captioned_folder(tmp_path / "c", n=8)
    for i, txt in enumerate(sorted(folder.glob("*.txt"))):
        txt.write_text(txt.read_text() + "\n" + dc.write_caption(i % 10, 0, 1, 2, dc.TEMPLATES[0]))
    data = load_dataset(DataConfig(source=str(folder)))
    recipe = build_recipe(_text_cfg(str(folder)), data)
    assert recipe.caption_table.shape[:2] == (8, 2) and len(recipe.tokens) == 16
    for i, mine in enumerate(data.captions):
        assert recipe.decode_text(recipe.caption_table[i]) == [" ".join(words(c)) for c in mine]


def test_caption_augmentation_drops_and_swaps_words_and_keeps_padding_last():
    tokens = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 0, 0], [9, 10, 0, 0, 0, 0, 0, 0, 0, 0]])
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(augment_captions(tokens, 0.0, 0, gen), tokens)
    kept, moved = [], 0
    for _ in range(400):
        out = augment_captions(tokens, 0.0, 3, gen)  # swaps alone: the same words, in another order
        assert all(sorted(o[o != 0].tolist()) == sorted(t[t != 0].tolist()) for o, t in zip(out, tokens))
        moved += not torch.equal(out, tokens)
        out = augment_captions(tokens, 0.25, 0, gen)
        for row, own in zip(out, tokens):
            n = int((row != 0).sum())
            assert n >= 1 and (row[n:] == 0).all()  # never empty; the words first, then padding
            words = row[:n].tolist()
            assert words == [w for w in own.tolist() if w in words]  # a subsequence: order kept
        kept.append(int((out[0] != 0).sum()))
    assert moved > 300  # most draws reorder something
    assert abs(np.mean(kept) / 8 - 0.75) < 0.03  # each word dropped a quarter of the time
    # the input is left as it was
    assert tokens[0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 0, 0]


def test_recipe_augments_training_captions_only(tmp_path):
    folder = _captioned_folder(tmp_path / "c")
    data = load_dataset(DataConfig(source=str(folder)))
    recipe = build_recipe(_text_cfg(str(folder), "text.word_swaps=2"), data)
    drawn = recipe.sample_labels(64, torch.Generator().manual_seed(1))
    trained = recipe.training_labels(64, torch.Generator().manual_seed(1))
    pool = {tuple(t) for t in recipe.tokens.tolist()}
    assert all(tuple(t) in pool for t in drawn.tolist())  # sampling draws the data's own captions
    assert sum(tuple(t) not in pool for t in trained.tolist()) > 20  # training: the same, words swapped
    assert [sorted(t) for t in trained.tolist()] == [sorted(t) for t in drawn.tolist()]


def test_joint_embedding_loss_is_symmetric_and_leaves_out_identical_captions():
    tokens = torch.tensor([[1, 2], [3, 4], [5, 6]])
    e = torch.eye(3)
    loss, top1 = joint_embedding_loss(e, e, tokens, temperature=0.5)
    # each image's own caption scores 1 / 0.5 = 2, the two others 0: -log(e^2 / (e^2 + 2)) both ways
    assert loss.item() == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + 2)), rel=1e-5) and top1.item() == 1.0
    loss, top1 = joint_embedding_loss(e, e.roll(1, 0), tokens, temperature=0.5)  # each image nearest another's caption
    assert loss.item() == pytest.approx(-math.log(1 / (math.exp(2) + 2)), rel=1e-5) and top1.item() == 0.0
    # pairs 0 and 2 share their words: neither is the other's negative, so their softmaxes have two
    # terms (pair 1's keeps three)
    same = torch.tensor([[1, 2], [3, 4], [1, 2]])
    loss, _ = joint_embedding_loss(e, e, same, temperature=0.5)
    two, three = math.log1p(math.exp(-2)), math.log1p(2 * math.exp(-2))
    assert loss.item() == pytest.approx((2 * two + three) / 3, rel=1e-5)


def test_pretraining_makes_matching_pairs_score_above_mismatched(tmp_path):
    folder = _captioned_folder(tmp_path / "c")
    data = load_dataset(DataConfig(source=str(folder)))
    torch.manual_seed(0)
    recipe = build_recipe(_text_cfg(str(folder), "text.pretrain_steps=150", "text.pretrain_lr=3e-3"), data)
    before = {k: v.clone() for k, v in recipe.encoder.state_dict().items()}
    report = recipe.pretrain(data, torch.device("cpu"), seed=4)
    assert report["steps"] == 150 and report["batch"] == 16 and report["loss_last"] < report["loss_first"]
    assert any(not torch.equal(before[k], v) for k, v in recipe.encoder.state_dict().items())
    assert not any(p.requires_grad for p in recipe.encoder.parameters())  # frozen again for the GAN
    with torch.no_grad():
        img = torch.nn.functional.normalize(recipe.image_encoder(data.take(torch.arange(16))), dim=1)
        txt = torch.nn.functional.normalize(recipe.encoder(recipe.tokens), dim=1)
    scores = img @ txt.T
    different = ~(recipe.tokens[:, None] == recipe.tokens[None]).all(-1)  # pairs whose captions differ
    assert scores.diag().mean() > scores[different].mean() + 0.3
    # Each image's best caption names its width and lean (the folder's strokes do not show the digit
    # word: d00 and d09 are one stroke under a seven's caption and a one's). Chance: 2 in 16.
    shown = lambda i: (i % 3, (i // 3) % 3)  # noqa: E731  (width, lean) of d{i}, as _captioned_folder draws it
    assert [shown(j) for j in scores.argmax(1).tolist()] == [shown(i) for i in range(16)]
    # the same seed pre-trains the same encoder
    torch.manual_seed(0)
    again = build_recipe(_text_cfg(str(folder), "text.pretrain_steps=150", "text.pretrain_lr=3e-3"), data)
    again.pretrain(data, torch.device("cpu"), seed=4)
    for k, v in again.encoder.state_dict().items():
        assert torch.equal(v, recipe.encoder.state_dict()[k])


def _weights(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_pretrained_encoder_stays_frozen_in_the_gan_and_its_checkpoint_restores_it(tmp_path):
    folder = _captioned_folder(tmp_path / "c")
    cfg = _text_cfg(str(folder), "train.checkpoint_every=2")
    run = gankit.train(cfg, tmp_path / "run", progress=False)
    record = json.loads((run.dir / "metrics.jsonl").read_text().splitlines()[0])
    assert record["step"] == 0 and record["pretrain"]["steps"] == 8
    # The pre-trained encoder as the run began its GAN: pre-training is drawn from the seed alone.
    torch.manual_seed(cfg.train.seed)
    data = load_dataset(cfg.data)
    fresh = build_recipe(cfg, data)
    initial_d = _weights(fresh.D)
    fresh.pretrain(data, torch.device("cpu"), cfg.train.seed + 4)
    pretrained = _weights(fresh.encoder)
    assert any(not torch.equal(v, initial_d[f"encoder.{k}"]) for k, v in pretrained.items())  # it did train
    trained = _weights(run.recipe.encoder)
    assert trained.keys() == pretrained.keys()
    for k in trained:  # four GAN steps left it as pre-trained
        assert torch.equal(trained[k], pretrained[k]), k
    assert not any(p.requires_grad for p in run.recipe.encoder.parameters())
    assert all(p.requires_grad for n, p in run.recipe.D.named_parameters() if not n.startswith("encoder."))
    d_now = _weights(run.recipe.D)
    assert not torch.equal(d_now["head.weight"], initial_d["head.weight"])  # the rest of D did train
    # The checkpoint holds it: a loaded model, and step 2's checkpoint resumed to step 4, carry it on.
    loaded = gankit.load(run.dir)
    for k, v in _weights(loaded.recipe.encoder).items():
        assert torch.equal(v, pretrained[k])
    from gankit.train.loop import resume
    from faultkit import metrics

    half = gankit.train(_text_cfg(str(folder), "train.checkpoint_every=2", "train.steps=2"), tmp_path / "half", progress=False)
    resumed = resume(half.dir, progress=False, steps=4)
    for name in ("G", "D", "G_ema"):
        got, want = _weights(getattr(resumed.recipe, name)), _weights(getattr(run.recipe, name))
        for k in want:
            assert torch.equal(got[k], want[k]), f"{name}.{k}"
    drop = ("time", "images_per_s", "pretrain")
    assert metrics(resumed.dir, drop) == metrics(run.dir, drop)


def test_joint_training_without_pretraining_trains_the_encoder_with_d(tmp_path):
    """text.pretrain_steps=0: the former design, kept to compare; D's loss reaches the encoder."""
    folder = _captioned_folder(tmp_path / "c")
    data = load_dataset(DataConfig(source=str(folder)))
    recipe = build_recipe(_text_cfg(str(folder), "text.pretrain_steps=0"), data)
    assert recipe.pretrain(data, torch.device("cpu"), seed=4) == {} and recipe.image_encoder is None
    gen = torch.Generator().manual_seed(0)
    assert recipe.caption_table.shape[:2] == (16, 1)  # one caption per image: nothing is drawn
    batch = Batch(real=data.take(torch.arange(4)), labels=recipe.caption_table[:4], z=recipe.sample_z(4, gen),
                  fake_labels=recipe.tokens[4:8])
    recipe.d_backward(batch)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in recipe.encoder.parameters())


def test_embedding_noise_reaches_g_in_training_only_and_d_judges_the_clean_embedding(tmp_path):
    """text.embed_noise: G's embeddings in training get N(0, sigma^2) noise (its CLS and GAN-INT terms
    and the fakes D scores); D scores them against the captions' own embeddings; sampling (eval) has
    none, and 0 leaves G's input as it was."""
    folder = _captioned_folder(tmp_path / "c")
    data = load_dataset(DataConfig(source=str(folder)))
    sigma = 0.5
    recipe = build_recipe(_text_cfg(str(folder), f"text.embed_noise={sigma}", "optim.batch_size=64"), data)
    seen = {"G": [], "D": []}
    for name, net in (("G", recipe.G), ("D", recipe.D)):
        net.register_forward_pre_hook(lambda _, args, name=name: seen[name].append(args[1].detach().clone()))
    tokens = recipe.tokens[torch.arange(64) % len(recipe.tokens)]
    z = recipe.sample_z(64, torch.Generator().manual_seed(0))
    batch = Batch(real=data.take(torch.arange(4)), labels=recipe.tokens[:4], z=z, fake_labels=tokens)
    torch.manual_seed(0)
    recipe.g_loss(batch)
    clean = recipe.text_embedding(tokens)
    mixed = 0.5 * clean + 0.5 * clean.roll(1, 0)
    assert len(seen["G"]) == len(seen["D"]) == 2  # the CLS term, then GAN-INT's
    for got_d, got_g, want in zip(seen["D"], seen["G"], (clean, mixed)):
        assert torch.equal(got_d, want)  # D: the caption's own embedding (and their mix)
        noise = got_g - want
        assert noise.std().item() == pytest.approx(sigma, rel=0.1) and noise.mean().abs() < 0.05
    a, b = recipe.generate(z, tokens), recipe.generate(z, tokens)
    assert not torch.equal(a, b)  # fresh noise each draw in training
    recipe.G.eval()
    assert torch.equal(recipe.generate(z, tokens), recipe.G(z, clean))  # none in eval mode
    quiet = build_recipe(_text_cfg(str(folder)), data)
    assert quiet.text.embed_noise == 0.1  # the preset's
    quiet.text.embed_noise = 0.0
    assert torch.equal(quiet.noisy(clean), clean)
    with pytest.raises(UserError, match="embed_noise"):
        load_config("text-mnist", ["text.embed_noise=-0.1"])


def test_text_recipe_needs_captions(tmp_path):
    folder = _captioned_folder(tmp_path / "c", n=2)
    for txt in folder.glob("*.txt"):
        txt.unlink()
    with pytest.raises(UserError, match=f"needs captioned images, and data '{folder}' has no captions"):
        build_recipe(_text_cfg(str(folder)), load_dataset(DataConfig(source=str(folder))))


def test_captioned_folder_readers(tmp_path):
    folder = _captioned_folder(tmp_path / "c", n=3)
    images, captions = read_captioned_folder(folder, 28, 1)
    assert images.shape == (3, 28, 28, 1) and captions[0] == [(folder / "d00.txt").read_text()]
    # one caption per non-empty line of name.txt (Reed et al.'s CUB layout)
    (folder / "d00.txt").write_text("a thin one upright\n\n  a thick two  \n")
    assert read_captioned_folder(folder, 28, 1)[1][0] == ["a thin one upright", "a thick two"]
    (folder / "d00.txt").write_text("\n \n")
    with pytest.raises(UserError, match=r"image '.*d00\.png' has no caption \(d00\.txt beside it is empty\)"):
        read_captioned_folder(folder, 28, 1)
    (folder / "d00.txt").write_text("a thin one\n?!\n")
    with pytest.raises(UserError, match=r"image '.*d00\.png': its caption '\?!' in d00\.txt has no words"):
        read_captioned_folder(folder, 28, 1)
    (folder / "d00.txt").write_text("a thin one upright\n")
    (folder / "d01.txt").unlink()
    with pytest.raises(UserError, match=r"image '.*d01\.png' has no caption \(no d01\.txt beside it\)"):
        read_captioned_folder(folder, 28, 1)
    # captions.jsonl, when present, is the one source of captions
    lines = [{"image": "d00.png", "caption": "a thin one upright"}, {"image": "d01.png", "caption": "a thick two"}]
    (folder / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    with pytest.raises(UserError, match=r"image '.*d02\.png' has no caption \(no line of .*captions\.jsonl names it\)"):
        read_captioned_folder(folder, 28, 1)
    lines.append({"image": "d02.png", "caption": "7, thin and upright"})
    (folder / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    assert read_captioned_folder(folder, 28, 1)[1] == [["a thin one upright"], ["a thick two"], ["7, thin and upright"]]
    # an image on several lines has several captions (COCO's layout)
    lines.append({"image": "d00.png", "caption": "1, thin and upright"})
    (folder / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    assert read_captioned_folder(folder, 28, 1)[1][0] == ["a thin one upright", "1, thin and upright"]
    for bad, message in [('{"image": "d00.png"', "line 1 is not JSON"),
                         ('{"image": "d00.png", "text": "a"}', r'line 1 must be \{"image"'),
                         ('{"image": "nope.png", "caption": "a"}', "line 1 names image 'nope.png', which does not exist"),
                         ('{"image": "d00.png", "caption": "a"}\n{"image": "d00.png", "caption": "..."}',
                          "line 2: the caption '...' of 'd00.png' has no words")]:
        (folder / "captions.jsonl").write_text(bad)
        with pytest.raises(UserError, match=message):
            read_captioned_folder(folder, 28, 1)


def test_sample_and_interpolate_with_text(tmp_path, capsys):
    folder = _captioned_folder(tmp_path / "c")
    run = gankit.train(_text_cfg(str(folder), "remedies.ema=0.9"), tmp_path / "run", progress=False)
    out = tmp_path / "s.npz"
    assert main(["sample", str(run.dir), "--text", "a thick seven leaning right", "-n", "5", "--out", str(out)]) == 0
    arrays = np.load(out)
    assert arrays["images"].shape == (5, 28, 28, 1) and arrays["images"].dtype == np.uint8
    assert arrays["captions"].tolist() == ["a thick seven leaning right"] * 5
    # A loaded model draws as the trained one did: the vocabulary is rebuilt from the run's captions.
    model = gankit.load(run.dir)
    tokens = model.text_tokens(["a thick seven leaning right"]).expand(5, -1)
    z = model.recipe.sample_z(5, torch.Generator().manual_seed(0))
    run.recipe.sampler.eval()  # the EMA generator, as the loaded model samples from
    with torch.no_grad():
        # (the trainer switched its nets onto gankit's CPU kernels: equal up to float rounding)
        torch.testing.assert_close(model.recipe.sample(z, tokens), run.recipe.sample(z, tokens), rtol=1e-4, atol=1e-6)
    capsys.readouterr()
    bad = tmp_path / "bad.png"
    assert main(["sample", str(run.dir), "--text", "a thick sevn", "--out", str(bad)]) == 2
    assert "unknown word 'sevn' (did you mean 'seven'?" in capsys.readouterr().err and not bad.exists()
    assert main(["sample", str(run.dir), "--label", "3", "--out", str(bad)]) == 2
    assert "give --text" in capsys.readouterr().err
    grid = tmp_path / "i.png"
    assert main(["interpolate", str(run.dir), "--text", "a thin one upright", "--text", "a thick seven",
                 "--rows", "2", "--steps", "3", "--out", str(grid)]) == 0
    assert Image.open(grid).size == (3 * 30 + 2, 2 * 30 + 2)
    assert main(["interpolate", str(run.dir), "--out", str(grid)]) == 2
    assert "--text A --text B" in capsys.readouterr().err
    assert main(["export", str(run.dir), "--format", "pt2", "--out", str(tmp_path / "g.pt2")]) == 0  # z and word indices
    assert [i["name"] for i in json.loads((tmp_path / "g.pt2.json").read_text())["inputs"]] == ["z", "tokens"]


def test_text_on_a_model_without_text(tmp_path, capsys):
    """A noise-to-sample GAN trained on a captioned folder ignores the captions, and refuses --text."""
    folder = _captioned_folder(tmp_path / "c", n=8)
    cfg = load_config("dcgan-mnist", [f"data.source={folder}", "model.g_width=4", "model.d_width=4", "model.z_dim=4",
                                      "optim.batch_size=4", "train.steps=1", "train.grid_size=4"])
    run = gankit.train(cfg, tmp_path / "run", progress=False)
    assert main(["sample", str(run.dir), "--text", "a seven", "--out", str(tmp_path / "s.png")]) == 2
    assert "draws nothing from text" in capsys.readouterr().err


def test_text_recipe_reads_only_the_options_it_declares(tmp_path):
    """As tests/test_architecture.py checks the other recipes: every recipe-owned key text2img reads
    while it is built and runs both phases is among its config_keys."""
    from test_architecture import _Recorder

    from gankit.configure import RECIPE_SECTIONS, _keys_of
    from gankit.recipes import RECIPES

    folder = _captioned_folder(tmp_path / "c", n=8)
    cfg = _text_cfg(str(folder))
    reads: set = set()
    data = load_dataset(cfg.data)
    recipe = build_recipe(_Recorder(cfg, reads), data)
    gen = torch.Generator().manual_seed(0)
    batch = Batch(real=data.take(torch.arange(4)), labels=recipe.real_labels(data)[:4], z=recipe.sample_z(4, gen),
                  fake_labels=recipe.sample_labels(4, gen))
    recipe.d_backward(batch)
    recipe.after_d_step()
    recipe.g_backward(batch)
    recipe.after_g_step()
    owned = _keys_of(RECIPE_SECTIONS)
    assert {"text.interp_weight", "text.interp_beta", "loss", "remedies.ema"} <= reads & owned
    assert (reads & owned) - _keys_of(RECIPES["text2img"].config_keys) == set()
