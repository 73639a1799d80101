"""Tests for sslskel.methods.gcl.build: the `gcl:` settings' checks, the graph-encoder checks
and `build_graph_contrast` against building the module by hand."""

import dataclasses

import numpy as np
import pytest
import torch

from sslskel.data.container import SkeletonData
from sslskel.methods.gcl import (
    AuthorsCodeGraphContrast,
    FeatureProjectionHead,
    GCLSettings,
    PaperGraphContrast,
    build_graph_contrast,
    graph_encoders,
    require_graphs,
    returns_graphs,
)
from sslskel.models import build_encoder, encoder_class

torch.set_num_threads(1)


def tiny_data(labels=(0, 1, 2, 0, 1, 2, 0, 0), layout="ntu25", joints=25):
    n = len(labels)
    clips = np.zeros((n, 3, 8, joints, 2), np.float32)
    return SkeletonData(clips, [8] * n, list(labels), [f"s{i}" for i in range(n)], layout=layout)


def test_defaults_are_the_papers():
    assert dataclasses.asdict(GCLSettings()) == dict(
        enabled=False, variant="paper", contrast="graph", per_class=684, dim=256, temperature=1.0,
        semantic_momentum=0.85, num_hard_positives=128, num_hard_negatives=512,
        num_random_negatives=512)


@pytest.mark.parametrize("key, value, expected", [
    ("variant", "authors", "one of paper, authors_code"),
    ("contrast", "graphs", "one of graph, feature"),
    ("per_class", 0, "an integer >= 1"),
    ("per_class", 2.5, "an integer >= 1"),
    ("dim", -3, "an integer >= 1"),
    ("temperature", 0.0, "a positive number"),
    ("semantic_momentum", 1.0, r"a number in \(0, 1\)"),
    ("num_hard_positives", 0, "an integer >= 1"),
    ("num_hard_negatives", -1, "an integer >= 0"),
    ("num_random_negatives", True, "an integer >= 0"),
])
def test_settings_name_the_bad_key_and_the_valid_values(key, value, expected):
    with pytest.raises(ValueError, match=rf"^gcl\.{key}: expected {expected}, got {value!r}$"):
        GCLSettings(**{key: value})


def test_settings_need_a_negative_and_check_again_after_a_change():
    with pytest.raises(ValueError, match="gcl.num_hard_negatives, gcl.num_random_negatives"):
        GCLSettings(num_hard_negatives=0, num_random_negatives=0)
    GCLSettings(num_hard_negatives=0, num_random_negatives=1)
    settings = GCLSettings()
    settings.variant = "authors"
    with pytest.raises(ValueError, match="gcl.variant"):
        build_graph_contrast(settings, build_encoder("ctrgcn", base_channels=8), tiny_data(), seed=0)


def test_graph_encoders_and_require_graphs():
    assert graph_encoders() == ["ctrgcn"]
    ctrgcn, gru = encoder_class("ctrgcn"), encoder_class("gru")
    assert returns_graphs(ctrgcn) and not returns_graphs(gru)
    require_graphs(ctrgcn)
    require_graphs(build_encoder("ctrgcn", base_channels=8))
    with pytest.raises(ValueError, match="--graph-distances needs") as err:
        require_graphs(gru, "--graph-distances")
    assert "gcl.contrast" not in str(err.value)


def test_a_non_graph_encoder_fails_clearly_unless_features_are_contrasted():
    encoder = build_encoder("gru", hidden_size=8, num_layers=1)
    with pytest.raises(ValueError, match=r"BiGRUEncoder returns none.*support it: ctrgcn.*"
                                         r"gcl\.contrast=feature"):
        build_graph_contrast(GCLSettings(), encoder, tiny_data(), seed=0)
    gcl = build_graph_contrast(GCLSettings(contrast="feature", dim=8, per_class=2), encoder,
                               tiny_data(), seed=0)
    assert gcl.contrast == "feature" and gcl.needs == "features"
    assert isinstance(gcl.head, FeatureProjectionHead) and gcl.head.fc.in_features == encoder.feature_dim


def test_paper_build_equals_building_by_hand():
    settings = GCLSettings(per_class=5, dim=16, temperature=0.7, semantic_momentum=0.9,
                           num_hard_positives=3, num_hard_negatives=4, num_random_negatives=6)
    encoder = build_encoder("ctrgcn", base_channels=8, layout="ucla20")
    data = tiny_data(layout="ucla20", joints=20)  # classes 0, 1, 2 with 4, 2, 2 samples
    torch.manual_seed(1)
    built = build_graph_contrast(settings, encoder, data, seed=7)
    torch.manual_seed(1)
    by_hand = PaperGraphContrast(num_classes=3, num_joints=20, per_class=2, dim=16, temperature=0.7,
                                 semantic_momentum=0.9, num_hard_positives=3, num_hard_negatives=4,
                                 num_random_negatives=6, seed=7)
    assert type(built) is PaperGraphContrast and built.setup_message.startswith(
        "SkeletonGCL instance bank: P=5 capped at 2")
    assert (built.seed, built.temperature, built.semantic_bank.momentum) == (7, 0.7, 0.9)
    assert (built.num_hard_positives, built.num_hard_negatives, built.num_random_negatives) == (3, 4, 6)
    for key, value in by_hand.state_dict().items():
        assert torch.equal(built.state_dict()[key], value), key


def test_authors_code_build_sizes_the_bank_by_the_training_set():
    settings = GCLSettings(variant="authors_code", dim=8, temperature=0.8)
    gcl = build_graph_contrast(settings, build_encoder("ctrgcn", base_channels=8), tiny_data(), seed=0)
    assert type(gcl) is AuthorsCodeGraphContrast and gcl.instance_bank.num_samples == 8
    assert gcl.temperature == 0.8 and gcl.setup_message is None
