"""Adversarial losses as pure functions of discriminator logits.

`Loss.d(real_logits, fake_logits)` is what D descends, `Loss.g(fake_logits)` what G descends.
Everything is written on logits with softplus, never log(sigmoid(.)), so that a confident D
gives finite losses and useful gradients: log D(x) = -softplus(-l), log(1 - D(x)) = -softplus(l).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def d_real_bce(real: Tensor) -> Tensor:
    """-E[log D(x)]: D's half of the value function on the data (Goodfellow et al. 2014)."""
    return F.softplus(-real).mean()


def d_fake_bce(fake: Tensor) -> Tensor:
    """-E[log(1 - D(G(z)))]: D's half on the fakes. D ascends V(D, G) by descending both halves."""
    return F.softplus(fake).mean()


def g_loss_minimax(fake: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))], the original minimax objective G descends (saturates early on)."""
    return -F.softplus(fake).mean()


def g_loss_nonsat(fake: Tensor) -> Tensor:
    """-E[log D(G(z))]: the non-saturating loss, G ascends log D(G(z))."""
    return F.softplus(-fake).mean()


def d_real_wasserstein(real: Tensor) -> Tensor:
    """The critic maximises E[f(x)] - E[f(G(z))] (Arjovsky et al. 2017)."""
    return -real.mean()


def d_fake_wasserstein(fake: Tensor) -> Tensor:
    return fake.mean()


def g_loss_wasserstein(fake: Tensor) -> Tensor:
    return -fake.mean()


def d_real_hinge(real: Tensor) -> Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - real).mean()


def d_fake_hinge(fake: Tensor) -> Tensor:
    return F.relu(1.0 + fake).mean()


def d_real_lsgan(real: Tensor) -> Tensor:
    """1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2] (Mao et al. 2017, a=0, b=1)."""
    return 0.5 * ((real - 1.0) ** 2).mean()


def d_fake_lsgan(fake: Tensor) -> Tensor:
    return 0.5 * (fake**2).mean()


def g_loss_lsgan(fake: Tensor) -> Tensor:
    """1/2 E[(D(G(z)) - 1)^2] (c=1)."""
    return 0.5 * ((fake - 1.0) ** 2).mean()


class Loss(NamedTuple):
    """D's loss is a sum of a term on the real logits and a term on the fake logits, so that each
    of D's passes can be backpropagated on its own (the training loop does, to free its activations)."""

    d_real: Callable[[Tensor], Tensor]
    d_fake: Callable[[Tensor], Tensor]
    g: Callable[[Tensor], Tensor]
    probabilities: bool  # True when sigmoid(logit) is D's probability that the input is real

    def d(self, real: Tensor, fake: Tensor) -> Tensor:
        return self.d_real(real) + self.d_fake(fake)


LOSSES: dict[str, Loss] = {
    "nonsat": Loss(d_real_bce, d_fake_bce, g_loss_nonsat, True),
    "minimax": Loss(d_real_bce, d_fake_bce, g_loss_minimax, True),
    "wasserstein": Loss(d_real_wasserstein, d_fake_wasserstein, g_loss_wasserstein, False),
    "hinge": Loss(d_real_hinge, d_fake_hinge, g_loss_wasserstein, False),  # G's hinge loss is -E[D(G(z))]
    "lsgan": Loss(d_real_lsgan, d_fake_lsgan, g_loss_lsgan, False),
}


def _input_grad_norms(scores: Tensor, x: Tensor, pack: int) -> Tensor:
    """||grad_x scores|| per sample, over all of a sample's dimensions (per packed group of `pack`
    samples when D judges several at once), for scores from a pass that took x with requires_grad.
    The gradient keeps its graph, so a penalty on it trains D."""
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.reshape(x.shape[0] // pack, -1).norm(2, dim=1)


def _grad_norms(critic: Callable[[Tensor], Tensor], x: Tensor, pack: int) -> Tensor:
    x = x.detach().requires_grad_(True)
    return _input_grad_norms(critic(x), x, pack)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor,
                     pack: int = 1) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - 1)^2] with x_hat = eps x + (1-eps) G(z),
    ONE mixing weight eps per sample (shape (N,)), broadcast over all of its dimensions."""
    e = eps.view(-1, *([1] * (real.dim() - 1)))
    x_hat = e * real.detach() + (1 - e) * fake.detach()
    return ((_grad_norms(critic, x_hat, pack) - 1.0) ** 2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, pack: int = 1) -> Tensor:
    """R1 (Mescheder et al. 2018): E[||grad D(x)||^2] on real data; the caller weighs it by gamma/2."""
    return (_grad_norms(critic, real, pack) ** 2).mean()


def r1_penalty_of(real_scores: Tensor, real: Tensor, pack: int = 1) -> Tensor:
    """R1 from the scores of D's own pass over `real` (taken with requires_grad), so that D's loss and
    R1 share one forward and one backward over the real batch (as StyleGAN2-ADA does when it fuses them)."""
    return (_input_grad_norms(real_scores, real, pack) ** 2).mean()


def r1_weight(gamma: float, every: int, d_updates: int) -> float:
    """R1's weight at this D update: gamma/2 on every update, or with lazy R1 (Karras et al. 2020)
    gamma/2 * N on every N-th update and 0 in between, the same on average."""
    if gamma <= 0 or d_updates % every:
        return 0.0
    return 0.5 * gamma * every


def path_length_penalty(images: Tensor, ws: Tensor, pl_mean: Tensor, decay: float) -> tuple[Tensor, Tensor]:
    """StyleGAN2's path-length regulariser (Karras et al. 2020, eq. 4) for images = synthesis(ws):
    E[(||J_w^T y||_2 - a)^2] with y ~ N(0, I) / sqrt(H W), the lengths averaged over the layers' w,
    and a the moving mean of the lengths. Returns the penalty and a moved by `decay` towards this
    batch's mean length."""
    y = torch.randn_like(images) / (images.shape[2] * images.shape[3]) ** 0.5
    (grad,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
    lengths = grad.float().square().sum(2).mean(1).sqrt()
    pl_mean = pl_mean.to(lengths.device).lerp(lengths.detach().mean(), decay)
    return (lengths - pl_mean).square().mean(), pl_mean


# ---- the semi-supervised GAN (Salimans et al. 2016, section 5) ------------------------------------
# D is a classifier over K real classes and a (K+1)-th "fake" class whose logit is fixed at 0. With
# Z(x) = sum_k exp(l_k(x)), D's probability that x is real is Z / (Z + 1) = sigmoid(logsumexp(l)),
# so log D(x) = -softplus(-lse) and log(1 - D(x)) = -softplus(lse), lse = logsumexp_k l_k(x).


def supervised_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """-E[log p(y | x, y < K+1)]: cross-entropy over the K real classes on labelled examples (the
    fake class drops out of the conditional)."""
    return F.cross_entropy(logits, labels)


def unsupervised_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-1/2 E[log D(x)] - 1/2 E[log(1 - D(G(z)))] with D(x) = Z / (Z + 1): the GAN's value function on
    an unlabelled real batch and a fake batch, halved as in the authors' code so that each half
    weighs like the supervised term."""
    real_lse, fake_lse = torch.logsumexp(real_logits, 1), torch.logsumexp(fake_logits, 1)
    return 0.5 * F.softplus(-real_lse).mean() + 0.5 * F.softplus(fake_lse).mean()


def class_entropy(logits: Tensor) -> Tensor:
    """E[-sum_k p(k | x, real) log p(k | x, real)]: the entropy of D's class prediction over the K real
    classes, averaged over the batch. Minimised on unlabelled real data, it asks D to be sure of some
    class for each (entropy minimisation, Grandvalet & Bengio 2005; Dai et al. 2017 add it to SSGAN)."""
    log_p = F.log_softmax(logits, 1)
    return -(log_p.exp() * log_p).sum(1).mean()


def consistency_loss(logits: Tensor, other_logits: Tensor) -> Tensor:
    """E[sum_k (p(k | x, real) - p'(k | x, real))^2]: how far two passes of D over the same images,
    with independent noise, disagree about their class (the Pi-model, Laine & Aila 2017)."""
    return (torch.softmax(logits, 1) - torch.softmax(other_logits, 1)).pow(2).sum(1).mean()


def real_probability(logits: Tensor) -> Tensor:
    """D(x) = Z / (Z + 1), per sample."""
    return torch.sigmoid(torch.logsumexp(logits, 1))


def feature_matching_loss(real_features: Tensor, fake_features: Tensor, kind: str = "squared") -> Tensor:
    """The distance between the batch means of D's intermediate features f (dimension d), Salimans et
    al. 2016, section 3.1: kind "squared" is the paper's || E f(x) - E f(G(z)) ||^2 / d, kind "abs" the
    authors' code's mean |E f(x) - E f(G(z))| (both the mean over the d features)."""
    diff = real_features.mean(0) - fake_features.mean(0)
    if kind == "abs":
        return diff.abs().mean()
    if kind == "squared":
        return diff.pow(2).mean()
    raise ValueError(f"feature matching kind must be abs or squared, got {kind!r}")
