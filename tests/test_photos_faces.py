"""Bundled data behind the srgan and dcgan-faces presets."""

import numpy as np

from gankit.configure import load_config
from gankit.data import load_dataset
from gankit.data.photos import HELD_OUT_PHOTOS, TRAIN_PHOTOS, photo, photo_patches


def test_faces_preset_uses_the_100_faces_at_32():
    cfg = load_config("dcgan-faces")
    data = load_dataset(cfg.data)
    assert data.floats().shape == (100, 1, 32, 32) and data.labels is None
    assert -1 <= data.floats().min() < data.floats().max() <= 1


def test_photo_patches_are_fixed_and_come_from_training_photos_only():
    assert not set(HELD_OUT_PHOTOS) & set(TRAIN_PHOTOS)
    a, b = photo_patches(16, n=28), photo_patches(16, n=28)
    assert a.shape == (28, 16, 16, 3) and a.dtype == np.uint8 and (a == b).all()  # fixed seed
    # Patch 0 is cut from the first training photo (maybe flipped).
    img = photo(TRAIN_PHOTOS[0])
    windows = np.lib.stride_tricks.sliding_window_view(img, (16, 16, 3))[:, :, 0]
    found = (windows == a[0]).all((2, 3, 4)).any() or (windows == a[0][:, ::-1]).all((2, 3, 4)).any()
    assert found
    cfg = load_config("srgan", ["data.resolution=16"])
    assert load_dataset(cfg.data).floats().shape == (4096, 3, 16, 16)
