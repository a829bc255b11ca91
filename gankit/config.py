"""Typed configuration: dataclasses, preset reading, dotted overrides and per-field checks.

A config is built in three layers: the dataclass defaults, a preset (or the user's YAML file), and
`KEY=VALUE` overrides. Every layer goes through the same checks, so a typo or a wrong type is a
`UserError` naming the key, never a silent default. Checks that need a registry (recipe, loss,
architecture, metric and augmentation names; options the chosen recipe never reads) live in
`gankit.configure`, whose `load_config` is the entry point users call.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError


@dataclass
class DataConfig:
    source: str = "mnist"  # a bundled set's name, or a path to a folder / .npz / IDX file
    resolution: int = 28  # images are resized to resolution x resolution
    channels: int = 1  # 1 = grayscale, 3 = RGB
    limit: int = 0  # keep only the first N examples (0 = all)
    held_out: int = 0  # examples never trained on: D's real-vs-held-out gap (gankit doctor), a test set (ssgan); from those data.limit leaves out, else taken out of training
    labelled: int = 0  # keep labels for N training examples, balanced over classes; the rest unlabelled (0 = all keep theirs)
    label_seed: int = 0  # which examples keep their labels (data.labelled)
    # Image-to-image data: "paired" (pix2pix: a folder of A|B side-by-side files, a folder with A/ and B/
    # of matching names, or a bundled task) or "unpaired" (CycleGAN: A/ and B/ of a folder, or source and
    # source_b); each example then holds A's channels and B's stacked along the channel axis.
    pairs: str = "none"  # none | paired | unpaired
    source_b: str = ""  # unpaired: B's own source (a bundled set's name, a folder or .npz); "" = source's B/ folder
    channels_b: int = 0  # B's channels when pairs is set (0 = data.channels)
    xflip: bool = False  # also train on every image mirrored left to right (doubles the set, like stylegan2-ada's --mirror)
    crop: str = "stretch"  # non-square images: stretch | center (crop the middle square) | pad (black borders)
    skip_bad: bool = False  # an unreadable image file: stop with its name (false) or skip it, counted and listed in the cache's manifest (true)
    on_gpu: str = "auto"  # CUDA: keep the uint8 set in GPU memory (always), stream batches from pinned host memory (never), or always when it takes under half the free GPU memory (auto)


@dataclass
class ModelConfig:
    arch: str = "dcgan"  # mlp | dcgan
    z_dim: int = 100
    g_width: int = 64  # DCGAN: channels of G's last hidden layer; MLP: units of each hidden layer
    d_width: int = 64
    g_layers: int = 2  # MLP only: hidden layers
    g_batch_norm: bool = False  # MLP only: batch norm before each of G's ReLUs (the DCGAN generator always has it)
    d_layers: int = 2
    maxout_pieces: int = 5  # MLP discriminator: maxout units as in Goodfellow et al. 2014
    dropout: float = 0.0  # MLP discriminator dropout
    conditional: bool = False  # class label into G (embedding joined to z) and into D
    cond_mode: str = "projection"  # how D sees the label: projection (Miyato & Koyama 2018) | concat
    spectral_norm: bool = False  # spectral normalisation of D's weights (Miyato et al. 2018)
    g_refine: bool = False  # DCGAN G: a 3x3 stride-1 conv + BN + ReLU after each upsampling stage


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | rmsprop (WGAN with clipping)
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas_g: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)
    d_steps: int = 1  # discriminator updates per generator update
    lr_decay: float = 0.0  # the last share of the budget (steps or minutes) over which both learning rates fall linearly to 0


@dataclass
class TrainConfig:
    steps: int = 2000  # generator updates; the run stops at whichever of steps/minutes comes first
    minutes: float = 0.0  # wall-clock budget (0 = none)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000
    grid_size: int = 64  # samples in each progress grid (fixed latent batch)
    channels_last: bool = True  # NHWC convolutions (oneDNN's fast layout on CPU)
    onednn_linear: bool = True  # CPU, not compiled: large linear layers on oneDNN's matmul where the CPU gains from it (accel/)
    thin_conv_products: bool = True  # CPU, not compiled: convolutions onto 1-3 channel maps as a matmul and a col2im sum where the CPU gains (accel/)
    keep_freed_memory: bool = True  # CPU on Linux (glibc): freed memory stays in the process, so a step does not fault its pages in afresh (memory.py)
    compile: bool = False  # torch.compile the nets (off: no gain on CPU for the bundled presets, docs/performance.md)
    reuse_fake: bool = True  # G's step reuses the last D step's fakes (one G forward per iteration; noise-to-sample GANs)
    precision: str = "auto"  # auto | fp32 | bf16 autocast; auto = bf16 on a CUDA GPU that supports it, else fp32


@dataclass
class DistConfig:
    sync_bn: bool = False  # torchrun with several processes: batch norm statistics over the global batch


@dataclass
class GuardConfig:
    rollbacks: int = 0  # on a non-finite loss: times to go back to the last good checkpoint (0 = stop)
    lr_factor: float = 0.5  # ... multiplying every learning rate by this each time


@dataclass
class SRGANConfig:
    scale: int = 4  # 4 (the paper) or 2
    blocks: int = 16  # residual blocks in the SRResNet generator
    content: str = "mse"  # mse | l1 | vgg (vgg needs vgg_weights)
    vgg_weights: str = ""  # a VGG19 state dict (torchvision key names), .safetensors or .pth
    adv_weight: float = 1e-3  # Ledig et al. 2017: content + 1e-3 x adversarial
    feature_match: float = 1.0  # weight of the L1 distance between D's features of SR and HR images
    bicubic_skip: bool = True  # G predicts a correction to bicubic upscaling (global residual)
    warmup_steps: int = 0  # G updates on the content loss alone before the adversarial terms start


@dataclass
class VAEGANConfig:
    kl_weight: float = 1.0  # weight of KL(q(z|x) || N(0, I)) per image
    feature_weight: float = 1.0  # reconstruction error in D's features (Larsen et al. 2016)
    pixel_weight: float = 0.0  # optional reconstruction error in pixels
    adv_weight: float = 1.0  # weight of the adversarial term in the encoder/decoder loss


@dataclass
class TextConfig:
    """Text-to-image (recipe text2img; Reed et al. 2016, GAN-INT-CLS)."""

    word_dim: int = 32  # size of each word's embedding
    embed_dim: int = 64  # size of the sentence embedding (the mean of a bidirectional GRU's outputs, half each way; even)
    compressed: int = 32  # the embedding's size after the compression layer, as G and D take it
    interp_weight: float = 1.0  # GAN-INT: weight of G's term on interpolated caption embeddings (0 = off)
    interp_beta: float = 0.5  # GAN-INT: the interpolation weight beta between two captions' embeddings
    # Steps of the text encoder's pre-training on a joint image-text embedding before the GAN starts
    # (DS-SJE, Reed et al. 2016), then frozen; 0 = no pre-training: the encoder is trained with D by
    # D's loss alone (the former design, to compare).
    pretrain_steps: int = 600
    pretrain_batch: int = 128  # image-caption pairs per pre-training step (each pair's negatives are the others)
    pretrain_lr: float = 1.0e-3  # Adam's learning rate for the pre-training
    projection: bool = True  # D's logit adds a projection term of the embedding (Miyato & Koyama 2018)
    # Std of Gaussian noise added to each number of the sentence embedding that G takes in training
    # (not D, which judges G's image against the caption's own embedding; not in sampling); 0 = none.
    embed_noise: float = 0.0
    # Caption augmentation in training (pre-training and GAN; not in sampling): each word dropped with
    # this probability, then this many swaps of two words per caption (EDA, Wei & Zou 2019); 0 = none.
    word_drop: float = 0.0
    word_swaps: int = 0


@dataclass
class TranslationConfig:
    """pix2pix (Isola et al. 2017) and CycleGAN (Zhu et al. 2017); each recipe reads its own keys."""

    adv_weight: float = 1.0  # weight of G's adversarial term; 0 = the L1-only / cycle-only ablation
    d_layers: int = 3  # PatchGAN's stride-2 layers: 3 = 70x70 patches, 2 = 34x34, 1 = 16x16
    l1_weight: float = 100.0  # pix2pix: G's loss = adversarial + l1_weight x |G(A) - B|
    unet_depth: int = 8  # pix2pix: U-Net downsamplings; image sides must be multiples of 2^depth (8 at 256 px)
    dropout: float = 0.5  # pix2pix: dropout in the U-Net's three innermost decoder stages (G's noise)
    cycle_weight: float = 10.0  # CycleGAN: weight of each cycle loss |F(G(a)) - a|, |G(F(b)) - b|
    identity: float = 0.5  # CycleGAN: identity loss |G(b) - b| weighted identity x cycle_weight (A, B of equal channels)
    blocks: int = 9  # CycleGAN: residual blocks of each ResNet generator (the paper: 6 at 128 px, 9 at 256)
    pool_size: int = 50  # CycleGAN: past fakes kept for D (Shrivastava et al. 2017); 0 = D sees only the newest
    semantic_weight: float = 0.0  # CycleGAN: weight of the label-keeping loss CE(C_B(G(a)), y_a) + CE(C_A(F(b)), y_b), C_X a classifier fitted on domain X (both domains labelled); 0 = off


@dataclass
class SSGANConfig:
    unlabelled_weight: float = 1.0  # weight of the unsupervised (real/fake) loss in D's; 0 = D on the labels alone (supervised baseline)
    input_noise: float = 0.3  # std of the Gaussian noise on D's input pixels, in [0, 1] units (Salimans et al. 2016)
    hidden_noise: float = 0.5  # std of the Gaussian noise after each of D's hidden layers
    d_ema: float = 0.0  # decay of an average of D's weights that classifies (gankit classify); 0 = D itself
    entropy_weight: float = 0.0  # weight of the entropy of D's class prediction on the unlabelled batch, minimised (Dai et al. 2017); 0 = off
    consistency_weight: float = 0.0  # weight of the disagreement of two noisy passes of D over the unlabelled batch (Pi-model, Laine & Aila 2017); 0 = off
    consistency_teacher: str = "pass"  # what D's unlabelled predictions must agree with: pass = a second noisy pass of D, both passes trained (Pi-model) | average = a noisy pass of the average of D's weights (ssgan.d_ema), not trained (Mean Teacher, Tarvainen & Valpola 2017)
    d_arch: str = "dense"  # D's layers: dense = the authors' MNIST D (fully connected, Gaussian noise) | conv = convolutional, shaped like their CIFAR-10 D (model.d_width the first stage's channels)
    shift: int = 0  # every image D sees, in D's step and G's, shifted by up to this many whole pixels each way (DiffAugment's translation); 0 = off
    feature_matching: str = "squared"  # G's loss on D's feature means: squared = mean (m_real - m_fake)^2 (the paper, the authors' MNIST code) | abs = mean |m_real - m_fake| (their CIFAR-10 and SVHN code)


@dataclass
class RemediesConfig:
    """Remedies for mode collapse; each is off at its default."""

    pack: int = 1  # PacGAN: D judges m samples at once (Lin et al. 2018)
    minibatch_disc: int = 0  # minibatch-discrimination kernels (Salimans et al. 2016); 0 = off
    mbstd: bool = False  # minibatch standard-deviation feature (Karras et al. 2018)
    unrolled_steps: int = 0  # k unrolled D steps in G's update (Metz et al. 2017); 0 = off
    ema: float = 0.0  # decay of an EMA of G's weights used for sampling; 0 = off
    augment: str = ""  # DiffAugment (Zhao et al. 2020) of every image D sees: translation, cutout, or both comma-separated
    ada: bool = False  # adaptive augmentation (Karras et al. 2020) of every image D sees, its probability tuned by r_t
    ada_target: float = 0.6  # ADA: the target of r_t = E[sign D(x_real)]
    ada_kimg: float = 500.0  # ADA: thousands of real images over which p can move from 0 to 1


@dataclass
class StyleGAN2Config:
    """StyleGAN2's own settings (recipe stylegan2); z_dim is model.z_dim, R1 is penalty.r1_*."""

    w_dim: int = 128  # width of w and of the mapping network
    mapping_layers: int = 8
    channel_base: int = 4096  # channels at resolution r: min(channel_base / r, channel_max)
    channel_max: int = 128
    mbstd_group: int = 4  # D's minibatch-stddev group size
    style_mixing: float = 0.9  # probability that a fake takes two latents, crossing over at a random layer
    pl_weight: float = 2.0  # path-length regularisation weight (0 = off)
    pl_every: int = 4  # lazy path-length regularisation: every N-th G update, weighted by N
    pl_decay: float = 0.01  # decay of the path-length mean a
    pl_batch_shrink: int = 2  # the path-length pass takes batch / this latents
    ema_kimg: float = 10.0  # half-life of G's EMA in thousands of images (0 = no EMA)
    ema_rampup: float = 0.05  # EMA half-life at most this share of the images seen so far (0 = no ramp-up)


@dataclass
class PenaltyConfig:
    gp_weight: float = 0.0  # WGAN-GP gradient penalty (Gulrajani et al. 2017)
    r1_gamma: float = 0.0  # R1 penalty on real data (Mescheder et al. 2018)
    r1_every: int = 1  # lazy R1 (Karras et al. 2020): only every N-th D update, weighted by N; 1 = every update
    clip: float = 0.0  # WGAN weight clipping of D to [-clip, clip]; 0 = off


@dataclass
class EvalConfig:
    every: int = 0  # evaluate every N generator steps into metrics.jsonl (0 = never)
    metrics: str = "fd,kid"  # comma-separated names from gankit.metrics.METRICS
    best_metric: str = ""  # a reported value (fd, kid_mean, recall, ...): keep checkpoints/best.safetensors by it
    num_samples: int = 2000  # samples drawn per evaluation (same latents every time)
    against: str = ""  # reference data (default: data.source)


@dataclass
class Config:
    name: str = "custom"
    description: str = ""
    recipe: str = "gan"
    loss: str = "nonsat"  # nonsat | minimax | wasserstein | hinge | lsgan
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dist: DistConfig = field(default_factory=DistConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    srgan: SRGANConfig = field(default_factory=SRGANConfig)
    vaegan: VAEGANConfig = field(default_factory=VAEGANConfig)
    text: TextConfig = field(default_factory=TextConfig)
    translation: TranslationConfig = field(default_factory=TranslationConfig)
    stylegan2: StyleGAN2Config = field(default_factory=StyleGAN2Config)
    ssgan: SSGANConfig = field(default_factory=SSGANConfig)
    remedies: RemediesConfig = field(default_factory=RemediesConfig)
    penalty: PenaltyConfig = field(default_factory=PenaltyConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))


# Fields whose values are a fixed set (names that come from a registry are checked by gankit.configure).
CHOICES = {
    "srgan.scale": (2, 4),
    "srgan.content": ("mse", "l1", "vgg"),
    "model.cond_mode": ("projection", "concat"),
    "optim.name": ("adam", "rmsprop"),
    "data.channels": (1, 3),
    "data.pairs": ("none", "paired", "unpaired"),
    "data.channels_b": (0, 1, 3),
    "data.crop": ("stretch", "center", "pad"),
    "data.on_gpu": ("auto", "always", "never"),
    "train.device": ("auto", "cpu", "cuda"),
    "train.precision": ("auto", "fp32", "bf16"),
}
POSITIVE = (
    "data.resolution", "model.z_dim", "model.g_width", "model.d_width", "model.g_layers",
    "model.d_layers", "model.maxout_pieces", "optim.batch_size", "optim.lr_g", "optim.lr_d",
    "optim.d_steps", "train.log_every", "train.sample_every", "train.checkpoint_every",
    "train.grid_size", "srgan.blocks", "remedies.pack", "translation.d_layers", "translation.unet_depth", "evaluation.num_samples", "penalty.r1_every",
    "text.word_dim", "text.embed_dim", "text.compressed", "text.pretrain_batch", "text.pretrain_lr",
    "stylegan2.w_dim", "stylegan2.mapping_layers", "stylegan2.channel_base", "stylegan2.channel_max",
    "stylegan2.mbstd_group", "stylegan2.pl_every", "stylegan2.pl_batch_shrink", "remedies.ada_kimg",
)
NON_NEGATIVE = ("srgan.adv_weight", "srgan.warmup_steps", "srgan.feature_match", "vaegan.kl_weight", "vaegan.feature_weight",
                "vaegan.pixel_weight", "vaegan.adv_weight", "ssgan.unlabelled_weight", "ssgan.input_noise", "ssgan.hidden_noise", "ssgan.shift", "ssgan.entropy_weight", "ssgan.consistency_weight", "text.embed_noise",
                "translation.adv_weight", "translation.l1_weight",
                "translation.cycle_weight", "translation.identity", "translation.blocks", "translation.pool_size",
                "translation.semantic_weight", "data.limit", "data.held_out", "data.labelled", "data.label_seed",
                "train.steps", "train.minutes", "train.seed", "model.dropout", "guard.rollbacks",
                "remedies.minibatch_disc", "remedies.unrolled_steps", "penalty.gp_weight", "penalty.r1_gamma",
                "penalty.clip", "evaluation.every", "text.interp_weight", "text.pretrain_steps", "text.word_swaps",
                "stylegan2.pl_weight", "stylegan2.ema_kimg", "stylegan2.ema_rampup")


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _coerce(value: Any, kind: Any, key: str) -> Any:
    """Convert a YAML value to the declared field type, or raise a UserError naming the key."""
    origin = typing.get_origin(kind)
    if kind is float and isinstance(value, str):  # YAML 1.1 reads '1e-4' (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind in (int, str, bool) and type(value) is kind:
        return value
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(kind)
        if len(value) == len(args):
            return tuple(_coerce(v, a, key) for v, a in zip(value, args))
    if origin in (typing.Union, types.UnionType) and value is None and type(None) in typing.get_args(kind):
        return None
    name = getattr(kind, "__name__", str(kind))
    raise UserError(f"config key '{key}': expected {name}, got {value!r}")


def _apply(obj: Any, values: dict[str, Any], prefix: str = "") -> None:
    if not isinstance(values, dict):
        raise UserError(f"config key '{prefix.rstrip('.') or '<root>'}': expected a mapping, got {values!r}")
    hints = typing.get_type_hints(type(obj))
    for key, value in values.items():
        full = prefix + str(key)
        if key not in hints:
            raise UserError(f"unknown config key '{full}'{_suggest(full)}")
        if dataclasses.is_dataclass(hints[key]):
            _apply(getattr(obj, key), value, full + ".")
        else:
            setattr(obj, key, _coerce(value, hints[key], full))


def all_keys(obj: Any | None = None, prefix: str = "") -> list[str]:
    obj = Config() if obj is None else obj
    keys = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            keys += all_keys(value, prefix + f.name + ".")
        else:
            keys.append(prefix + f.name)
    return keys


def _suggest(key: str) -> str:
    keys = all_keys()
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.5)
    if not close:  # the right leaf name under the wrong section: 'lr_d' -> 'optim.lr_d'
        leaf = key.rsplit(".", 1)[-1]
        close = [k for k in keys if k.rsplit(".", 1)[-1] == leaf]
    return f" (did you mean '{close[0]}'?)" if close else ""


def get_key(cfg: Config, key: str) -> Any:
    """The value at a dotted key ('optim.lr_d')."""
    value: Any = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return value


def validate(cfg: Config) -> Config:
    for key, allowed in CHOICES.items():
        if get_key(cfg, key) not in allowed:
            raise UserError(f"config key '{key}': {get_key(cfg, key)!r} is not one of {', '.join(map(str, allowed))}")
    for key in POSITIVE:
        if not get_key(cfg, key) > 0:
            raise UserError(f"config key '{key}': must be positive, got {get_key(cfg, key)!r}")
    for key in NON_NEGATIVE:
        if get_key(cfg, key) < 0:
            raise UserError(f"config key '{key}': must not be negative, got {get_key(cfg, key)!r}")
    for key in ("optim.betas_g", "optim.betas_d"):
        if not all(0.0 <= b < 1.0 for b in get_key(cfg, key)):
            raise UserError(f"config key '{key}': each beta must lie in [0, 1), got {list(get_key(cfg, key))}")
    if not 0.0 < cfg.guard.lr_factor < 1.0:
        raise UserError(f"config key 'guard.lr_factor': must lie in (0, 1), got {cfg.guard.lr_factor!r}")
    if cfg.train.steps == 0 and cfg.train.minutes == 0:
        raise UserError("config: set train.steps or train.minutes, or training would never stop")
    if not 0.0 <= cfg.optim.lr_decay <= 1.0:
        raise UserError(f"config key 'optim.lr_decay': must lie in [0, 1], got {cfg.optim.lr_decay!r}")
    if cfg.text.embed_dim % 2:
        raise UserError(f"config key 'text.embed_dim': must be even (the GRU's two directions, half each), got {cfg.text.embed_dim}")
    if not 0.0 <= cfg.text.interp_beta <= 1.0:
        raise UserError(f"config key 'text.interp_beta': must lie in [0, 1], got {cfg.text.interp_beta!r}")
    if not 0.0 <= cfg.text.word_drop < 1.0:
        raise UserError(f"config key 'text.word_drop': must lie in [0, 1), got {cfg.text.word_drop!r}")
    if not 0.0 <= cfg.translation.dropout < 1.0:
        raise UserError(f"config key 'translation.dropout': must lie in [0, 1), got {cfg.translation.dropout!r}")
    if cfg.data.pairs == "none" and (cfg.data.source_b or cfg.data.channels_b):
        key = "data.source_b" if cfg.data.source_b else "data.channels_b"
        raise UserError(f"config key '{key}': only image-to-image data uses it (set data.pairs=paired or unpaired)")
    if cfg.data.pairs == "paired" and cfg.data.source_b:
        raise UserError("config key 'data.source_b': paired data come from one source (a folder with A/ and B/, "
                        "or A|B side-by-side files); source_b is for data.pairs=unpaired")
    if cfg.ssgan.feature_matching not in ("abs", "squared"):
        raise UserError(f"config key 'ssgan.feature_matching': must be abs or squared, got {cfg.ssgan.feature_matching!r}")
    for key in ("entropy_weight", "consistency_weight"):
        if getattr(cfg.ssgan, key) > 0 and cfg.ssgan.unlabelled_weight == 0:
            raise UserError(f"config key 'ssgan.{key}': its term is taken on the unlabelled batch, "
                            f"which ssgan.unlabelled_weight=0 (the supervised baseline) does not use: set ssgan.{key}=0 "
                            "beside it")
    if cfg.ssgan.consistency_teacher not in ("pass", "average"):
        raise UserError("config key 'ssgan.consistency_teacher': must be pass or average, "
                        f"got {cfg.ssgan.consistency_teacher!r}")
    if cfg.ssgan.consistency_teacher == "average" and cfg.ssgan.d_ema == 0:
        raise UserError("config key 'ssgan.consistency_teacher': average takes its targets from the average of D's "
                        "weights, which ssgan.d_ema=0 turns off: set ssgan.d_ema (0.99 measured best with it) or use pass")
    if cfg.ssgan.d_arch not in ("dense", "conv"):
        raise UserError(f"config key 'ssgan.d_arch': must be dense or conv, got {cfg.ssgan.d_arch!r}")
    if not 0.0 <= cfg.ssgan.d_ema < 1.0:
        raise UserError(f"config key 'ssgan.d_ema': must lie in [0, 1), got {cfg.ssgan.d_ema!r}")
    if not 0.0 <= cfg.remedies.ema < 1.0:
        raise UserError(f"config key 'remedies.ema': must lie in [0, 1), got {cfg.remedies.ema!r}")
    for key in ("remedies.ada_target", "stylegan2.style_mixing", "stylegan2.pl_decay"):
        if not 0.0 <= get_key(cfg, key) <= 1.0:
            raise UserError(f"config key '{key}': must lie in [0, 1], got {get_key(cfg, key)!r}")
    if cfg.optim.batch_size % cfg.remedies.pack:
        raise UserError(f"config key 'remedies.pack': {cfg.remedies.pack} must divide optim.batch_size {cfg.optim.batch_size}")
    if cfg.remedies.pack > 1 and cfg.model.conditional:
        raise UserError("config key 'remedies.pack': packing is not supported with model.conditional")
    if cfg.model.arch == "dcgan" and (cfg.data.resolution < 8 or cfg.data.resolution % 2):
        raise UserError(f"config key 'data.resolution': DCGAN needs an even resolution of at least 8, got {cfg.data.resolution}")
    if cfg.recipe == "srgan" and cfg.data.resolution % cfg.srgan.scale:
        raise UserError(f"config key 'data.resolution': SRGAN's HR patch size {cfg.data.resolution} must be a multiple of srgan.scale={cfg.srgan.scale}")
    if cfg.recipe == "pix2pix" and cfg.data.resolution % 2**cfg.translation.unet_depth:
        raise UserError(f"config key 'data.resolution': pix2pix's U-Net with translation.unet_depth={cfg.translation.unet_depth} "
                        f"needs a multiple of {2**cfg.translation.unet_depth}, got {cfg.data.resolution}")
    if cfg.recipe in ("pix2pix", "cyclegan") and cfg.data.resolution // 2**cfg.translation.d_layers < 3:
        raise UserError(f"config key 'translation.d_layers': a PatchGAN of {cfg.translation.d_layers} stride-2 layers needs "
                        f"images of at least {3 * 2**cfg.translation.d_layers} pixels, got data.resolution={cfg.data.resolution}")
    if cfg.recipe in ("pix2pix", "cyclegan") and cfg.evaluation.every:
        raise UserError(f"config key 'evaluation.every': the sample metrics do not apply to {cfg.recipe}'s translations; "
                        f"measure a finished run with benchmarks/translation.py (docs/translation.md)")
    if cfg.recipe == "cyclegan" and cfg.data.resolution % 4:
        raise UserError(f"config key 'data.resolution': CycleGAN's ResNet generator needs a multiple of 4, got {cfg.data.resolution}")
    if cfg.recipe == "srgan" and cfg.srgan.content == "vgg" and not cfg.srgan.vgg_weights:
        raise UserError("config key 'srgan.vgg_weights': content=vgg needs a VGG19 weights file (none can be downloaded here)")
    if cfg.train.compile:  # aot_autograd raises on a double backward only at the first penalised step
        second_order = [k for k in ("penalty.gp_weight", "penalty.r1_gamma", "remedies.unrolled_steps") if get_key(cfg, k)]
        if second_order:
            raise UserError(f"config key 'train.compile': torch.compile cannot differentiate twice, which "
                            f"{', '.join(f'{k}={get_key(cfg, k)}' for k in second_order)} needs; set train.compile=false "
                            f"or turn {'them' if len(second_order) > 1 else 'it'} off")
    return cfg


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("gankit.presets").iterdir() if p.name.endswith(".yaml"))


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{source}: malformed YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UserError(f"{source}: expected a mapping of config keys, got {type(values).__name__}")
    return values


def parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise UserError(f"override '{item}' is not KEY=VALUE (e.g. optim.lr_d=1e-4)")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _nest(key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cur = out
    parts = key.split(".")
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
    return out


def read_dict(values: dict[str, Any], source: str = "config") -> Config:
    cfg = Config()
    try:
        _apply(cfg, values)
    except UserError as exc:
        raise UserError(f"{source}: {exc}") from None
    return validate(cfg)


def read_config(name_or_path: str, overrides: list[str] = ()) -> Config:
    """A preset name or a YAML file, then `KEY=VALUE` overrides applied in order, each field checked."""
    path = Path(name_or_path)
    if name_or_path in preset_names():
        text = resources.files("gankit.presets").joinpath(name_or_path + ".yaml").read_text()
        source = f"preset '{name_or_path}'"
    elif path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise UserError(f"config file '{path}' does not exist")
        text, source = path.read_text(), str(path)
    else:
        close = difflib.get_close_matches(name_or_path, preset_names(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else " (see 'gankit presets')"
        raise UserError(f"'{name_or_path}' is neither a preset nor a YAML file{hint}")
    cfg, values = Config(), _read_yaml(text, source)  # its errors already name the source
    try:
        _apply(cfg, values)
    except UserError as exc:
        raise UserError(f"{source}: {exc}") from None
    for item in overrides:
        _apply(cfg, _nest(*parse_override(item)))
    return validate(cfg)


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
