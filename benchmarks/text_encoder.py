"""Does the pre-trained text encoder read the digit word in every phrasing? (issue 25, without the GAN)

Runs text-mnist's text-encoder pre-training alone (the joint image-text embedding, as `gankit train`
runs it before the GAN; seed 0 for the nets, as the run's), then, for each of the first 1,000 bundled
digits, writes the ten captions that differ from its own only in the digit word (its own thickness,
slant and size levels) in a phrasing, scores them against the image with the pre-trained image and
text encoders (cosine), and reports how often the image's own digit scores highest (chance 10%).
Phrasings: two training ones and the one held out of training. It is a quick look at whether the
fixed embedding G and D condition on can tell the digits apart in an unseen phrasing: the GAN cannot
follow what the embedding does not hold.

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


if __name__ == "__main__":
    main(sys.argv[1:])
