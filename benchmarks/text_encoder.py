"""Does the pre-trained text encoder read the digit word in every phrasing? (issue 25, without the GAN)

Runs text-mnist's text-encoder pre-training alone (the joint image-text embedding, as `gankit train`
runs it before the GAN; seed 0 for the nets, as the run's), then, for each of the first 1,000 bundled
digits, writes the ten captions that differ from its own only in the digit word (its own thickness,
slant and size levels) in a phrasing, scores them against the image with the pre-trained image and
text encoders (cosine), and reports how often the image's own digit scores highest (chance 10%).
Phrasings: two training ones and the one held out of training. It is a quick look at whether the
fixed embedding G and D condition on can tell the digits apart in an unseen phrasing: the GAN cannot
follow what the embedding does not hold. Then, for every caption the held-out phrasing can write, it
asks whether the nearest of the training phrasings' captions (Euclidean distance, on the raw and on
unit-length embeddings) names the same digit: whether the held-out embeddings land beside training
ones of the same content, where G was trained.

    OMP_NUM_THREADS=1 python benchmarks/text_encoder.py [KEY=VALUE ...]   (e.g. text.pretrain_steps=1500)
"""

from __future__ import annotations

import sys
import time

import torch
import torch.nn.functional as F

from gankit.configure import load_config
from gankit.data import digit_captions as dc
from gankit.data import load_dataset
from gankit.recipes import build_recipe


def main(overrides: list[str]) -> None:
    cfg = load_config("text-mnist", overrides)
    torch.manual_seed(cfg.train.seed)
    data = load_dataset(cfg.data)
    recipe = build_recipe(cfg, data)
    began = time.monotonic()
    report = recipe.pretrain(data, torch.device("cpu"), cfg.train.seed + 4)
    print(f"pre-training: {report} in {time.monotonic() - began:.1f} s")
    n = 1000
    images = data.take(torch.arange(n))
    _, lv = dc.digit_captions(((images[:, 0] + 1) / 2).numpy(), data.labels[:n].numpy())
    with torch.no_grad():
        img = F.normalize(recipe.image_encoder(images), dim=1)
        for name, phrasing in [("training phrasing 1", dc.TEMPLATES[0]), ("training phrasing 4", dc.TEMPLATES[3]),
                               ("held-out phrasing", dc.HELD_OUT)]:
            captions = [dc.write_caption(d, int(lv["thickness"][i]), int(lv["slant"][i]), int(lv["size"][i]), phrasing)
                        for i in range(n) for d in range(10)]
            txt = F.normalize(recipe.encoder(recipe.vocabulary.encode(captions)), dim=1).view(n, 10, -1)
            picked = (txt * img[:, None]).sum(-1).argmax(1)
            print(f"[{name}] '{phrasing}': own digit scores highest for {(picked == data.labels[:n]).float().mean():.3f}")
        # Where a held-out caption's embedding lands among the training phrasings' (every caption the
        # four training phrasings can write, any levels): does its nearest one by Euclidean distance name
        # the same digit, and has it the same levels too, on the raw embeddings and on unit-length ones?
        combos = [(d, t, s, z) for d in range(10) for t in range(3) for s in range(3) for z in range(3)]
        train = sorted({(dc.write_caption(*c, p), c) for c in combos for p in dc.TEMPLATES})
        train_emb = recipe.encoder(recipe.vocabulary.encode([c for c, _ in train]))
        combo_of = [c for _, c in train]
        train_digit = torch.tensor([c[0] for c in combo_of])
        index_of = {c: i for i, c in enumerate(combos)}
        train_combo = torch.tensor([index_of[c] for c in combo_of])  # each training caption's content, as an index of combos
        same_content = train_combo[None] == torch.arange(len(combos))[:, None]  # (held, train)
        pair = (train_combo[:, None] == train_combo[None]) & ~torch.eye(len(train_combo), dtype=torch.bool)
        held = recipe.encoder(recipe.vocabulary.encode([dc.write_caption(*c, dc.HELD_OUT) for c in combos]))
        held_digit = torch.tensor([c[0] for c in combos])
        print(f"embedding norms: training phrasings {train_emb.norm(dim=1).mean():.3f} +- {train_emb.norm(dim=1).std():.3f}, "
              f"held-out {held.norm(dim=1).mean():.3f} +- {held.norm(dim=1).std():.3f}")
        for kind, f in (("raw", lambda e: e), ("unit length", lambda e: F.normalize(e, dim=1))):
            dist = torch.cdist(f(held), f(train_emb))
            nearest = dist.argmin(1)
            same = (train_digit[:, None] == held_digit[None]).T  # (held, train): training captions of the same digit
            own = dist.masked_fill(~same, float("inf")).min(1).values.mean() / dist.mean()
            # The four training captions of a held-out caption's very content (digit and levels), against
            # how far the training phrasings of one content lie from each other: is a phrasing's
            # wording still in its embedding?
            held_own = dist[same_content].mean() / dist.mean()
            within = torch.cdist(f(train_emb), f(train_emb))
            train_own = within[pair].mean() / within.mean()
            print(f"[held-out phrasing, {kind}] nearest training caption names the same digit: "
                  f"{(train_digit[nearest] == held_digit).float().mean():.3f}; distance to the nearest same-digit "
                  f"caption / mean distance {own:.3f}; to the same content's training captions / mean {held_own:.3f} "
                  f"(training phrasings of one content among themselves: {train_own:.3f})")


if __name__ == "__main__":
    main(sys.argv[1:])
