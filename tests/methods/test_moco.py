import copy

import pytest
import torch

from sslskel.data.batch import Batch
from sslskel.engine.config import load_config
from sslskel.methods import build_method, method_class
from sslskel.methods.base import Progress
from sslskel.methods.losses import info_nce

SMALL = ["data.layout=ntu25", "optim.batch_size=4", "moco.queue_size=10", "moco.mlp_hidden=16", "moco.feature_dim=4", "moco.momentum=0.9",
         "encoder.args={hidden_size: 8, num_layers: 1}"]



def train_step(method, views, lengths, progress):
    """One training step on plain tensors: (main loss, logs)."""
    n = views[0].shape[0]
    losses, logs = method.training_step(Batch(views, lengths, torch.zeros(n, dtype=torch.long), torch.arange(n)),
                                        progress)
    return losses["main"], logs

def make(*extra):
    torch.manual_seed(0)
    return build_method(load_config(None, [*SMALL, *extra]))


def batch(n=4, t=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, t, 25, 2, generator=g) for _ in range(2)], torch.full((n, 2), t)


def test_registry_names_the_valid_methods():
    with pytest.raises(KeyError, match="valid: cvmim, halp, moco, simclr, vmoco, vsimclr"):
        method_class("byol")


def test_enqueue_wraps_the_ring_and_recent_keys_reads_in_order():
    moco = make()
    keys = torch.arange(24, dtype=torch.float32).repeat_interleave(4).view(24, 4)
    for chunk in keys.split(4):  # 6 pushes of 4 into a ring of 10
        moco.enqueue(chunk)
    assert int(moco.queue_ptr) == 24 % 10 and int(moco.num_enqueued) == 24
    assert moco.recent_keys(7)[:, 0].tolist() == list(range(17, 24))
    assert moco.queue[:, 0].tolist() == [20, 21, 22, 23, 14, 15, 16, 17, 18, 19]


def test_momentum_update_is_the_ema():
    moco = make()
    with torch.no_grad():
        for p in moco.query_parameters():
            p.add_(1.0)
    before = [p.clone() for p in moco.key_parameters()]
    moco.momentum_update()
    for b, q, k in zip(before, moco.query_parameters(), moco.key_parameters()):
        torch.testing.assert_close(k, 0.9 * b + 0.1 * q)


def test_training_step_loss_is_infonce_against_the_old_queue_and_grads_reach_query_only():
    moco = make()
    views, lengths = batch()
    queue_before = moco.queue.clone()
    key_encoder_before = copy.deepcopy(moco.key_encoder)
    loss, logs = train_step(moco, views, lengths, Progress(0, 0))
    loss.backward()
    assert all(p.grad is None for p in moco.key_parameters())
    assert all(p.grad is not None for p in moco.query_parameters())
    # recompute by hand: keys from the momentum-updated key encoder, negatives = old queue
    with torch.no_grad():
        moco_ref = make()
        moco_ref.momentum_update()
        q = torch.nn.functional.normalize(moco_ref.projector(moco_ref.encoder(views[0], lengths[:, 0])), dim=1)
        k = torch.nn.functional.normalize(moco_ref.key_projector(moco_ref.key_encoder(views[1], lengths[:, 1])), dim=1)
        expected, _ = info_nce(q, k, queue_before, 0.07)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(moco.queue[:4], k)  # this batch's keys enqueued after the loss
    assert float(logs["queue/filled"]) == pytest.approx(0.4)
    del key_encoder_before
