"""The semi-supervised GAN of Salimans et al. 2016 ("Improved techniques for training GANs", section 5).

D is a classifier over the K classes of the data plus a (K+1)-th "fake" class whose logit is fixed
at 0 (`objectives`: D(x) = Z / (Z + 1), Z = sum_k exp(l_k(x))). Each D step sees three batches:

    L_D = CE(D(x_lab), y) + unlabelled_weight * (-1/2 E log D(x_unl) - 1/2 E log(1 - D(G(z)))),

a labelled batch drawn from the examples that kept their labels (data.labelled), the loop's real
batch as the unlabelled one (every training example, labelled or not, as in the authors' code) and
G's fakes. G learns by feature matching: || E f(x) - E f(G(z)) ||^2 (ssgan.feature_matching=squared, the
paper's and the authors' MNIST code's; abs: the mean |.|, their CIFAR-10 and SVHN code's) on D's
last hidden layer f before its noise (the noise of the layers below it on), for a real batch and
latents of its own (train.reuse_fake does not apply). Terms beyond the paper, off by default (the
preset ssgan-mnist turns on the last two): ssgan.entropy_weight times the entropy of D's class
prediction on the unlabelled batch (entropy minimisation), ssgan.consistency_weight times the
disagreement of two passes of D over it with independent noise (the Pi-model; with
ssgan.consistency_teacher=average the second pass is the averaged D's, a target only: Mean
Teacher), and ssgan.shift, every image D sees shifted by whole pixels. The trained D is the
product: `class_probabilities` classifies images (`gankit classify`).

With unlabelled_weight = 0 D is trained on the labelled batch alone and G is left untrained: the
supervised baseline, the same D architecture and loop without the GAN. With ssgan.d_ema > 0 an
exponential moving average of D's weights classifies (the authors test with an average of D's weights).
"""

from __future__ import annotations

import contextlib
import copy

import torch
import torch.nn as nn

from ..augment import translate
from ..config import Config
from ..data import Dataset
from ..data.split import UNLABELLED
from ..errors import UserError
from ..nets import ConvSSGANDiscriminator, SSGANDiscriminator, SSGANGenerator
from ..objectives import (class_entropy, consistency_loss, feature_matching_loss, real_probability, supervised_loss,
                          unsupervised_loss)
from .gan import Batch, frozen

Tensor = torch.Tensor

INIT_BATCH = 500  # real images D's data-dependent initialisation sees (the authors' 500)


class SSGANRecipe:
    reuses_fake = False  # G's step draws its own real batch and latents, as the authors' code does
    needs_images = True
    draws_from_noise = True
    conditional = False  # G is unconditional; the labels train D only
    learns_from_unlabelled = True  # takes data whose labels were dropped (data.labelled)
    config_keys = ("model.z_dim", "model.g_width", "model.d_width", "ssgan")
    d_updates = 0

    def __init__(self, cfg: Config, data: Dataset, autocast=contextlib.nullcontext):
        self.cfg, self.autocast = cfg, autocast
        self.num_classes = data.num_classes
        if self.num_classes < 2:
            raise UserError(f"config key 'recipe': ssgan's D is a classifier, and data '{data.name}' has no class labels")
        s, m = cfg.ssgan, cfg.model
        self.unlabelled_weight, self.entropy_weight, self.consistency_weight = (
            s.unlabelled_weight, s.entropy_weight, s.consistency_weight)
        self.z_dim = m.z_dim
        shape = data.sample_shape
        w = m.d_width
        if s.d_arch == "conv":
            least = ConvSSGANDiscriminator.MIN_SIZE
            if min(shape[1:]) < least:
                raise UserError(f"config key 'ssgan.d_arch': conv needs images of at least {least} pixels a side, and "
                                f"data '{data.name}' has {shape[1]}x{shape[2]}; use dense or a larger data.resolution")
            self.D = ConvSSGANDiscriminator(shape, w, self.num_classes, s.input_noise, s.hidden_noise)
        else:  # the authors' D: 1000, 500, 250, 250, 250 units
            self.D = SSGANDiscriminator(shape, (w, max(w // 2, 1), max(w // 4, 1), max(w // 4, 1), max(w // 4, 1)),
                                        self.num_classes, s.input_noise, s.hidden_noise)
        self.shift = s.shift / max(shape[1:])  # as a share of the image's size, as augment.translate takes it
        self.G = SSGANGenerator(self.z_dim, shape, (m.g_width, m.g_width))
        self.d_ema, self.consistency_teacher = s.d_ema, s.consistency_teacher
        self.feature_matching = s.feature_matching
        labels = data.labels if data.labels is not None else torch.full((len(data.pixels),), UNLABELLED)
        known = labels != UNLABELLED
        # The labelled examples' rows, taken from the set as floats a batch at a time
        self.data, self.labelled_rows, self.labelled_y = data, known.nonzero().squeeze(1), labels[known]
        # Labelled batches walk through shuffled copies of the labelled set, end to end (the authors
        # tile it to the unlabelled set's length): every example is seen equally often.
        self.label_gen = torch.Generator().manual_seed(cfg.train.seed + 3)
        self.label_queue = torch.zeros(0, dtype=torch.int64)
        # A model loaded from a checkpoint is built on a one-image placeholder and gets its weights
        # from the file; a training set starts D from data-dependent initialisation.
        if len(data) > 1:
            pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.train.seed))[:INIT_BATCH]
            self.D.data_init(data.take(pick))
        self.D_ema = copy.deepcopy(self.D).requires_grad_(False) if self.d_ema > 0 else None  # after the init

    def modules(self) -> dict[str, nn.Module]:
        mods = {"G": self.G, "D": self.D}
        if self.D_ema is not None:
            mods["D_ema"] = self.D_ema
        return mods

    def g_parameters(self):
        return self.G.parameters()

    def sample_z(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.randn(n, self.z_dim, generator=generator, device=generator.device)

    def sample_labels(self, n: int, generator: torch.Generator) -> None:
        return None

    training_labels = sample_labels  # what the loop draws for a training batch's fakes: nothing here either

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.G(z)

    sample = generate

    @property
    def sampler(self) -> nn.Module:
        return self.G

    def _shifted(self, x: Tensor) -> Tensor:
        """x, each image shifted by up to ssgan.shift whole pixels each way (the background fills in)."""
        return translate(x, self.shift) if self.shift > 0 else x

    def labelled_batch(self, n: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """The next n labelled examples and their labels."""
        while len(self.label_queue) < n:
            perm = torch.randperm(len(self.labelled_y), generator=self.label_gen)
            self.label_queue = torch.cat([self.label_queue, perm])
        idx, self.label_queue = self.label_queue[:n], self.label_queue[n:]
        return self.data.take(self.labelled_rows[idx]).to(device), self.labelled_y[idx].to(device)

    def d_backward(self, batch: Batch, fake: Tensor | None = None) -> dict[str, Tensor]:
        """D's step: the supervised loss on a labelled batch plus, weighted, the unsupervised loss on the
        loop's real batch and G's fakes, in one pass over the three (D mixes no batch statistics)."""
        x_lab, y_lab = self.labelled_batch(len(batch.real), batch.real.device)
        with self.autocast():
            if self.unlabelled_weight > 0:
                with torch.no_grad():
                    fake = self.G(batch.z)
                logits = self.D(self._shifted(torch.cat([x_lab, batch.real, fake])))
                lab, unl, fk = logits.split([len(x_lab), len(batch.real), len(fake)])
            else:
                lab = self.D(self._shifted(x_lab))
            loss_lab = supervised_loss(lab, y_lab)
            stats = {"loss_lab": loss_lab.detach(),
                     "train_error": (lab.detach().argmax(1) != y_lab).float().mean()}
            loss = loss_lab
            if self.unlabelled_weight > 0:
                loss_unl = unsupervised_loss(unl, fk)
                loss = loss + self.unlabelled_weight * loss_unl
                if self.entropy_weight > 0:
                    entropy = class_entropy(unl)
                    loss = loss + self.entropy_weight * entropy
                    stats["entropy"] = entropy.detach()
                if self.consistency_weight > 0:  # a second pass over the unlabelled batch, noise and shifts drawn anew
                    if self.consistency_teacher == "average":  # the teacher's guess is a target, not trained
                        with torch.no_grad():
                            target = self.D_ema(self._shifted(batch.real))
                    else:
                        target = self.D(self._shifted(batch.real))
                    disagreement = consistency_loss(unl, target)
                    loss = loss + self.consistency_weight * disagreement
                    stats["consistency"] = disagreement.detach()
                stats.update(loss_unl=loss_unl.detach(), d_real=real_probability(unl.detach()).mean(),
                             d_fake=real_probability(fk.detach()).mean())
        loss.backward()
        return {"loss_d": loss.detach(), **stats}

    def g_backward(self, batch: Batch, fake: Tensor | None = None) -> dict[str, Tensor]:
        """G's step: feature matching through a frozen D (no gradient reaches D's weights)."""
        if self.unlabelled_weight == 0:  # the supervised baseline: nothing uses G
            return {}
        with frozen(self.D), self.autocast():
            with torch.no_grad():
                real_features = self.D.features(self._shifted(batch.real))
            fake_features = self.D.features(self._shifted(self.G(batch.z)))
            loss = feature_matching_loss(real_features, fake_features, self.feature_matching)
        loss.backward()
        return {"loss_g": loss.detach()}

    def after_d_step(self) -> None:
        """Counts the update and moves the average of D's weights (ssgan.d_ema) towards them."""
        self.d_updates += 1
        if self.D_ema is not None:
            with torch.no_grad():
                torch._foreach_lerp_(list(self.D_ema.parameters()), list(self.D.parameters()), 1.0 - self.d_ema)

    def after_g_step(self) -> None:
        pass

    def refresh_ema_statistics(self) -> None:  # no EMA generator
        pass

    def extra_state(self) -> dict[str, Tensor]:
        """Where the labelled batches stand, so a resumed run draws the batches an uninterrupted one would."""
        return {"label_gen": self.label_gen.get_state(), "label_queue": self.label_queue}

    def load_extra_state(self, state: dict[str, Tensor]) -> None:
        self.label_gen.set_state(state["label_gen"])
        self.label_queue = state["label_queue"]

    @property
    def classifier(self) -> nn.Module:
        """The D that classifies: the average of D's weights when ssgan.d_ema > 0."""
        return self.D_ema if self.D_ema is not None else self.D

    @torch.no_grad()
    def class_probabilities(self, x: Tensor) -> Tensor:
        """p(y = k | x, real) for images x (N, C, H, W) in [-1, 1]: the softmax of D's K logits (in eval mode: no noise)."""
        D = self.classifier
        was_training = D.training
        D.eval()
        try:
            return torch.softmax(D(x).float(), 1)
        finally:
            D.train(was_training)
