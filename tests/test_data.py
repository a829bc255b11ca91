import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.errors import UserError


def load(source, resolution=16, channels=1, **kw):
    return load_dataset(DataConfig(source=str(source), resolution=resolution, channels=channels, **kw))


def test_bundled_mnist_is_real_and_scaled():
    d = load("mnist", resolution=28)
    assert d.floats().shape == (5000, 1, 28, 28) and d.floats().dtype == torch.float32
    assert d.floats().min() == -1.0 and d.floats().max() == 1.0
    assert torch.bincount(d.labels).tolist() == [500] * 10 and d.num_classes == 10
    sub = load("mnist", resolution=28, limit=200)
    assert len(sub) == 200 and len(sub.labels.unique()) == 10  # a random subset, not the first class only


def test_bundled_digits_and_toys():
    d = load("digits", resolution=8)
    assert d.floats().shape == (1797, 1, 8, 8) and d.num_classes == 10
    ring = load("ring")
    assert ring.floats().shape == (100_000, 2) and not ring.is_images
    radius = ring.floats().norm(dim=1)
    assert (radius - 1).abs().max() < 0.1


def test_framed_mnist_fills_the_frame_as_the_8x8_digits_do():
    framed, mnist = load("mnist-framed", resolution=28), load("mnist", resolution=28)
    assert framed.floats().shape == (5000, 1, 28, 28) and torch.equal(framed.labels, mnist.labels)
    for images in (framed.floats(), load("digits", resolution=28).floats()):
        ink = images[:, 0] > 0.0  # at least half the full intensity
        rows, cols = ink.any(2), ink.any(1)
        height = 28 - rows.int().argmax(1) - rows.flip(1).int().argmax(1)
        width = 28 - cols.int().argmax(1) - cols.flip(1).int().argmax(1)
        # the digit's longer side spans (nearly) the whole frame, centred
        assert (torch.maximum(height, width) >= 26).float().mean() > 0.95
    ink = mnist.floats()[:, 0] > 0.0  # MNIST itself leaves a margin of about 4 pixels
    assert (ink.any(2).sum(1) <= 22).float().mean() > 0.95


def test_folder_with_class_subfolders_and_mixed_modes(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "cats").mkdir()
    (tmp_path / "dogs" / "deep").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 255, (20, 30), dtype=np.uint8), "L").save(tmp_path / "cats" / "a.png")
    Image.fromarray(rng.integers(0, 255, (40, 40, 4), dtype=np.uint8), "RGBA").save(tmp_path / "cats" / "b b.png")
    Image.fromarray(rng.integers(0, 255, (9, 9, 3), dtype=np.uint8), "RGB").convert("P").save(tmp_path / "dogs" / "deep" / "ç.gif")
    Image.fromarray(np.full((12, 12, 3), 255, dtype=np.uint8)).save(tmp_path / "dogs" / "white.jpg")
    d = load(tmp_path, resolution=16, channels=3)
    assert d.floats().shape == (4, 3, 16, 16) and d.labels.tolist() == [0, 0, 1, 1] and d.num_classes == 2
    assert d.floats()[3].min() > 0.95  # a white JPEG stays white after scaling to [-1, 1]
    assert load(tmp_path, channels=1).floats().shape == (4, 1, 16, 16)


def test_folder_errors(tmp_path):
    with pytest.raises(UserError, match="no images found"):
        load(tmp_path)
    good = tmp_path / "ok.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:30])  # truncated
    with pytest.raises(UserError, match=r"broken.png: cannot read image"):
        load(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        load(tmp_path / "nowhere")


def test_npz(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 10, 10, 3), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=images, labels=np.arange(5))
    d = load(tmp_path / "a.npz", resolution=10, channels=3)
    expected = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert torch.allclose(d.floats(), expected, atol=1e-6) and d.labels.tolist() == [0, 1, 2, 3, 4]
    np.savez(tmp_path / "b.npz", pictures=images)
    with pytest.raises(UserError, match=r"b.npz: no 'images' array in the npz \(keys: pictures\)"):
        load(tmp_path / "b.npz")
    (tmp_path / "c.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="c.npz: not a readable .npz"):
        load(tmp_path / "c.npz")
    np.savez(tmp_path / "d.npz", images=np.full((2, 4, 4), 300.0))
    with pytest.raises(UserError, match="d.npz: image values span"):
        load(tmp_path / "d.npz")


def write_idx(path, array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    data = header + array.astype(">u1" if type_code == 0x08 else ">f4").tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_with_labels(tmp_path, suffix):
    images = np.random.default_rng(1).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", np.array([3, 1, 4, 1, 5, 9], dtype=np.uint8))
    d = load(tmp_path / f"train-images-idx3-ubyte{suffix}", resolution=28)
    assert torch.equal(((d.floats()[:, 0] + 1) * 127.5).round().to(torch.uint8), torch.from_numpy(images))
    assert d.labels.tolist() == [3, 1, 4, 1, 5, 9]


def test_idx_errors(tmp_path):
    bad_magic = tmp_path / "a-idx3-ubyte"
    bad_magic.write_bytes(b"\x01\x02\x08\x03" + b"\0" * 20)
    with pytest.raises(UserError, match="bad magic number"):
        load(bad_magic)
    short = tmp_path / "b-idx3-ubyte"
    write_idx(short, np.zeros((4, 5, 5), np.uint8))
    short.write_bytes(short.read_bytes()[:-7])
    with pytest.raises(UserError, match=r"IDX length is wrong: header says shape \(4, 5, 5\)"):
        load(short)


def test_cifar_python_and_binary_batches(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
    folder = tmp_path / "cifar"
    folder.mkdir()
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({b"data": data, b"labels": [0, 1, 2, 3]}, f)
    records = np.concatenate([np.array([[7], [8]], np.uint8), data[:2]], 1)
    (folder / "data_batch_2.bin").write_bytes(records.tobytes())
    d = load(folder, resolution=32, channels=3)
    assert d.floats().shape == (6, 3, 32, 32) and d.labels.tolist() == [0, 1, 2, 3, 7, 8]
    red = ((d.floats()[0, 0] + 1) * 127.5).round().to(torch.uint8)  # channel-major rows: the first 1,024 bytes are red
    assert torch.equal(red.flatten(), torch.from_numpy(data[0, :1024]))


def test_cifar_pickle_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f)
    with pytest.raises(UserError, match="refusing to load"):
        load(tmp_path / "data_batch_1")
    assert not (tmp_path / "pwned").exists()
