"""Adaptive discriminator augmentation (Karras et al. 2020, "Training generative adversarial networks
with limited data"): every image D sees, real or fake, in D's step, G's step and R1, goes through a
differentiable pipeline of transformations, each applied to an image with one probability p; p is
tuned during training by the overfitting heuristic r_t = E[sign D(x_real)], raised while r_t is above
its target (D is too sure of the reals) and lowered while below. At p < ~0.8 the transformations do
not leak into G's samples, because each is invertible in distribution.

The geometric transformations compose into one affine matrix per image (output -> input coordinates,
in grid_sample's normalised [-1, 1] frame), applied with one bilinear resampling and reflection at the
border; x-flips, 90-degree rotations and whole-pixel shifts land on pixel centres and stay exact. The
colour transformations compose into one 4x4 matrix on (R, G, B, 1); a grayscale image is treated as
the grey RGB (g, g, g) and read back as its mean, so hue and saturation leave it unchanged and the luma
flip negates it. Random draws come from torch's global generator, which checkpoints hold."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

Tensor = torch.Tensor

# The strength of each transformation: StyleGAN2-ADA's 'bgc' defaults.
TRANSLATE_INT = 0.125  # whole-pixel shift, up to this share of the image
SCALE_STD = 0.2  # log2 of the isotropic scale ~ N(0, this^2)
ROTATE_MAX = 1.0  # arbitrary rotation, uniform in +-this x pi
ANISO_STD = 0.2  # log2 of the anisotropic scale
TRANSLATE_FRAC_STD = 0.125  # fractional shift ~ N(0, this^2) of the image
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5  # log2 of the contrast factor
HUE_MAX = 1.0  # hue rotation about the luma axis, uniform in +-this x pi
SATURATION_STD = 1.0  # log2 of the saturation factor

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")


def _gate(p: Tensor, n: int, device) -> Tensor:
    """(n,) bools: which images a transformation applies to, each with probability p."""
    return torch.rand(n, device=device) < p


def _affine(a: Tensor, b: Tensor, c: Tensor, d: Tensor, tx: Tensor, ty: Tensor) -> Tensor:
    """(n, 3, 3) matrices [[a, b, tx], [c, d, ty], [0, 0, 1]]."""
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    return torch.stack([torch.stack([a, b, tx], -1), torch.stack([c, d, ty], -1),
                        torch.stack([zero, zero, one], -1)], -2)


def _rotation(theta: Tensor) -> Tensor:
    zero = torch.zeros_like(theta)
    return _affine(theta.cos(), -theta.sin(), theta.sin(), theta.cos(), zero, zero)


def _scaling(sx: Tensor, sy: Tensor) -> Tensor:
    zero = torch.zeros_like(sx)
    return _affine(sx, zero, zero, sy, zero, zero)


def _translation(tx: Tensor, ty: Tensor) -> Tensor:
    one, zero = torch.ones_like(tx), torch.zeros_like(tx)
    return _affine(one, zero, zero, one, tx, ty)


def geometric_matrix(n: int, size: int, p: Tensor, device, kinds: tuple[str, ...] = GEOMETRIC) -> Tensor:
    """(n, 3, 3): the inverse geometric transformation of each image (where each output pixel reads
    from), in normalised coordinates of an image `size` pixels wide, for the kinds asked for."""
    eye = torch.eye(3, device=device).expand(n, 3, 3)
    m = eye
    ones = torch.ones(n, device=device)

    def gated(matrix: Tensor, prob: Tensor) -> Tensor:
        return torch.where(_gate(prob, n, device).view(n, 1, 1), matrix, eye)

    if "xflip" in kinds:  # a coin flip among the gated images, as in StyleGAN2-ADA
        flip = torch.randint(0, 2, (n,), device=device).float()
        m = m @ gated(_scaling(1 - 2 * flip, ones), p)
    if "rotate90" in kinds:
        quarter = torch.randint(0, 4, (n,), device=device).float()
        m = m @ gated(_rotation(quarter * (math.pi / 2)), p)
    if "xint" in kinds:  # whole pixels: 2 / size is one pixel in normalised coordinates
        shift = torch.round((torch.rand(n, 2, device=device) * 2 - 1) * TRANSLATE_INT * size) * (2.0 / size)
        m = m @ gated(_translation(shift[:, 0], shift[:, 1]), p)
    if "scale" in kinds:
        s = torch.exp2(torch.randn(n, device=device) * SCALE_STD)
        m = m @ gated(_scaling(s, s), p)
    # Arbitrary rotation is applied twice (before and after the anisotropic scale), each with
    # probability 1 - sqrt(1 - p), so that some rotation happens with probability p.
    p_rot = 1 - torch.sqrt((1 - p).clamp_min(0))
    if "rotate" in kinds:
        m = m @ gated(_rotation((torch.rand(n, device=device) * 2 - 1) * math.pi * ROTATE_MAX), p_rot)
    if "aniso" in kinds:
        s = torch.exp2(torch.randn(n, device=device) * ANISO_STD)
        m = m @ gated(_scaling(s, 1 / s), p)
    if "rotate" in kinds:
        m = m @ gated(_rotation((torch.rand(n, device=device) * 2 - 1) * math.pi * ROTATE_MAX), p_rot)
    if "xfrac" in kinds:
        shift = torch.randn(n, 2, device=device) * TRANSLATE_FRAC_STD * 2  # a share of the image: x2 in [-1, 1] units
        m = m @ gated(_translation(shift[:, 0], shift[:, 1]), p)
    return m


def _luma_axis(device) -> Tensor:
    return torch.tensor([1.0, 1.0, 1.0, 0.0], device=device) / math.sqrt(3)


def colour_matrix(n: int, p: Tensor, device, kinds: tuple[str, ...] = COLOUR) -> Tensor:
    """(n, 4, 4): each image's colour transformation of (R, G, B, 1), for the kinds asked for."""
    eye = torch.eye(4, device=device).expand(n, 4, 4)
    v = _luma_axis(device)
    vv = torch.outer(v, v)
    c = eye

    def gated(matrix: Tensor) -> Tensor:
        return torch.where(_gate(p, n, device).view(n, 1, 1), matrix, eye)

    if "brightness" in kinds:
        b = torch.randn(n, device=device) * BRIGHTNESS_STD
        t = eye.clone()
        t[:, :3, 3] = b[:, None]
        c = gated(t) @ c
    if "contrast" in kinds:
        s = torch.exp2(torch.randn(n, device=device) * CONTRAST_STD)
        t = torch.diag_embed(torch.stack([s, s, s, torch.ones_like(s)], -1))
        c = gated(t) @ c
    if "lumaflip" in kinds:  # reflect through the plane orthogonal to the luma axis
        i = torch.randint(0, 2, (n,), device=device).float().view(n, 1, 1)
        c = gated(eye - 2 * vv * i) @ c
    if "hue" in kinds:  # rotation about the luma axis (Rodrigues)
        theta = (torch.rand(n, device=device) * 2 - 1) * math.pi * HUE_MAX
        k = torch.zeros(4, 4, device=device)
        u = v[:3]
        k[:3, :3] = torch.tensor([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]], device=device)
        rot = eye + theta.sin().view(n, 1, 1) * k + (1 - theta.cos()).view(n, 1, 1) * (k @ k)
        c = gated(rot) @ c
    if "saturation" in kinds:
        s = torch.exp2(torch.randn(n, device=device) * SATURATION_STD).view(n, 1, 1)
        c = gated(vv + (eye - vv) * s) @ c
    return c


def apply_geometric(x: Tensor, m: Tensor) -> Tensor:
    """Resample images x (N, C, H, W) through inverse matrices m (N, 3, 3), reflecting at the border."""
    grid = F.affine_grid(m[:, :2, :].to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def apply_colour(x: Tensor, c: Tensor) -> Tensor:
    """Images x (N, C, H, W) with C in (1, 3) through colour matrices c (N, 4, 4)."""
    c = c.to(x.dtype)
    n, ch = x.shape[:2]
    if ch == 3:
        flat = x.reshape(n, 3, -1)
        return (c[:, :3, :3] @ flat + c[:, :3, 3:]).reshape(x.shape)
    # grey g is the RGB (g, g, g); what comes back is the mean of the three channels
    gain = c[:, :3, :3].sum(2).mean(1).view(n, 1, 1, 1)
    offset = c[:, :3, 3].mean(1).view(n, 1, 1, 1)
    return x * gain + offset


def augment(x: Tensor, p: Tensor | float, kinds: tuple[str, ...] = GEOMETRIC + COLOUR) -> Tensor:
    """The pipeline at probability p (a tensor keeps it on the device, no sync): geometric, then
    colour. p = 0 returns x itself."""
    p = torch.as_tensor(p, device=x.device, dtype=torch.float32)
    n, size = x.shape[0], x.shape[-1]
    geo = [k for k in kinds if k in GEOMETRIC]
    col = [k for k in kinds if k in COLOUR]
    if geo:
        x = apply_geometric(x, geometric_matrix(n, size, p, x.device, tuple(geo)))
    if col:
        x = apply_colour(x, colour_matrix(n, p, x.device, tuple(col)))
    return x


class AdaptiveP:
    """The probability p, tuned every `interval` D updates from r_t = E[sign D(x_real)] over them:
    p += sign(r_t - target) * (images in the interval) / (kimg * 1000), kept in [0, 1], so p can go
    from 0 to 1 in `kimg` thousand real images. All state is tensors on the device (no sync)."""

    def __init__(self, target: float = 0.6, kimg: float = 500.0, interval: int = 4, device=None):
        self.target, self.kimg, self.interval = target, kimg, interval
        self.p = torch.zeros((), device=device)
        self.sign_sum = torch.zeros((), device=device)
        self.count = torch.zeros((), device=device)
        self.updates = 0

    def observe(self, real_logits: Tensor) -> Tensor:
        """Adds one batch of D's logits on reals to r_t's sums; returns this batch's mean sign."""
        signs = real_logits.detach().float().sign()
        if self.p.device != signs.device:  # built with the data on the CPU, trained on another device
            self.p, self.sign_sum, self.count = (t.to(signs.device) for t in (self.p, self.sign_sum, self.count))
        self.sign_sum = self.sign_sum + signs.sum()
        self.count = self.count + signs.numel()
        return signs.mean()

    def step(self, batch_size: int) -> None:
        """After each D update; every `interval`-th moves p by one step and clears the sums."""
        self.updates += 1
        if self.updates % self.interval:
            return
        rt = self.sign_sum / self.count.clamp_min(1)
        adjust = torch.sign(rt - self.target) * (batch_size * self.interval) / (self.kimg * 1000)
        self.p = (self.p + adjust * (self.count > 0)).clamp(0.0, 1.0)
        self.sign_sum = torch.zeros_like(self.sign_sum)
        self.count = torch.zeros_like(self.count)

    def state(self) -> dict[str, Tensor]:
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count,
                "updates": torch.tensor(self.updates, dtype=torch.int64)}

    def load_state(self, state: dict[str, Tensor]) -> None:
        device = self.p.device
        self.p, self.sign_sum, self.count = (state[k].to(device) for k in ("p", "sign_sum", "count"))
        self.updates = int(state["updates"])
