"""sslskel.data.pairs and the batch metadata / cross-view partners of SkeletonDataset,
against a plain loop over the names."""

import numpy as np
import torch

from sslskel.data.container import SkeletonData, ntu_meta_from_names
from sslskel.data.dataset import SkeletonDataset, make_loader
from sslskel.data.pairs import cross_view_partners, performance_ids
from sslskel.data.transforms import CenterCrop

NAMES = ["S001C001P001R001A001", "S001C002P001R001A001", "S001C003P001R001A001",  # one take, 3 cameras
         "S001C001P001R002A001",  # another replication: its own performance
         "S001C001P002R001A001", "S001C001P002R001A001",  # same camera twice: no partner
         "not_an_ntu_name", "S002C002P001R001A001"]  # unknown; another setup


def reference_partners(names):
    """Plain loop: same S, P, R, A and a different camera."""
    meta = ntu_meta_from_names(names)
    out = []
    for i in range(len(names)):
        known = meta["subject"][i] >= 0
        out.append([j for j in range(len(names)) if known and j != i and meta["camera"][j] != meta["camera"][i]
                    and all(meta[k][j] == meta[k][i] for k in ("setup", "subject", "replication", "action"))])
    return out


def test_partners_match_the_loop_reference():
    meta = ntu_meta_from_names(NAMES)
    assert [p.tolist() for p in cross_view_partners(meta, len(NAMES))] == reference_partners(NAMES)
    ids = performance_ids(meta, len(NAMES))
    assert ids[0] == ids[1] == ids[2] and len(set(ids.tolist())) == 5  # unknown names stay apart
    assert ids[4] == ids[5] and ids[6] not in ids[:6]


def test_unknown_metadata_never_pairs():
    meta = {"camera": np.array([1, 2]), "subject": np.array([-1, -1])}
    assert [p.tolist() for p in cross_view_partners(meta, 2)] == [[], []]
    assert performance_ids({}, 3).tolist() == [0, 1, 2]


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(NAMES), 3, 12, 25, 1)).astype(np.float32)
    return SkeletonData(x, [12] * len(NAMES), [0] * len(NAMES), NAMES, meta=ntu_meta_from_names(NAMES))


def test_batches_carry_metadata_and_partners_without_changing_the_own_views():
    plain = SkeletonDataset(data(), CenterCrop(0.9, 8), num_views=2, seed=3)
    paired = SkeletonDataset(data(), CenterCrop(0.9, 8), num_views=2, seed=3, partners=True)
    batch = next(iter(make_loader(paired, 8, shuffle=False)))
    reference = next(iter(make_loader(plain, 8, shuffle=False)))
    assert all(torch.equal(a, b) for a, b in zip(batch.views, reference.views))
    assert reference.partner_views is None
    assert batch.meta["camera"].tolist() == [1, 2, 3, 1, 1, 1, -1, 2]
    assert batch.meta["performance"].tolist() == performance_ids(data().meta, 8).tolist()
    assert batch.has_partner.tolist() == [True, True, True, False, False, False, False, False]
    x = data()
    for i in range(3):  # the partner clip is one of the other cameras' takes
        matches = [j for j in range(3) if j != i and torch.allclose(
            batch.partner_views[0][i], torch.from_numpy(CenterCrop(0.9, 8)(x.sample(j), 12, None)[0]))]
        assert len(matches) == 1
    assert torch.equal(batch.partner_views[0][3], batch.views[0][3])  # no partner: itself
