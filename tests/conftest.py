import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _prepared_sets_in_tmp(tmp_path_factory, monkeypatch):
    """Folders the tests read are prepared into a temporary cache, never the user's."""
    monkeypatch.setenv("GANKIT_DATA_CACHE", str(tmp_path_factory.getbasetemp() / "gankit-datasets"))


@pytest.fixture
def tiny_cfg():
    """A DCGAN small enough to train a few steps in about a second."""
    from gankit.configure import load_config

    return load_config("dcgan-mnist", ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "optim.batch_size=16",
                                       "data.limit=256", "train.steps=6", "train.log_every=2", "train.sample_every=3",
                                       "train.checkpoint_every=3", "train.grid_size=16"])
