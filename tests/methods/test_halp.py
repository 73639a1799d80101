import pytest
import torch

from sslskel.data.batch import Batch
from sslskel.engine.config import load_config
from sslskel.methods import build_method
from sslskel.methods.base import Progress

SMALL = ["data.layout=ntu25", "optim.batch_size=8", "moco.queue_size=16", "moco.mlp_hidden=16", "moco.feature_dim=8", "moco.momentum=0.9",
         "encoder.args={hidden_size: 8, num_layers: 1}", "halp.num_prototypes=3",
         "halp.recent_keys=12", "halp.num_positives=10", "halp.refresh_every=2"]



def train_step(method, views, lengths, progress):
    """One training step on plain tensors: (main loss, logs)."""
    n = views[0].shape[0]
    losses, logs = method.training_step(Batch(views, lengths, torch.zeros(n, dtype=torch.long), torch.arange(n)),
                                        progress)
    return losses["main"], logs

def make(method, *extra):
    torch.manual_seed(0)
    small = SMALL if method == "halp" else [o for o in SMALL if not o.startswith("halp.")]
    return build_method(load_config(None, [f"method={method}", *small, *extra]))


def batches(count, n=8, t=6):
    g = torch.Generator().manual_seed(1)
    return [([torch.randn(n, 3, t, 25, 2, generator=g) for _ in range(2)], torch.full((n, 2), t))
            for _ in range(count)]


def test_mu_zero_reproduces_moco_exactly():
    moco, halp = make("moco"), make("halp", "halp.mu=0.0", "halp.start_epoch=0")
    for step, (views, lengths) in enumerate(batches(4)):
        loss_moco, _ = train_step(moco, views, lengths, Progress(0, step))
        loss_halp, _ = train_step(halp, views, lengths, Progress(0, step))
        assert loss_halp.item() == loss_moco.item()


def test_no_generation_before_start_epoch_or_before_the_queue_is_full():
    halp = make("halp", "halp.start_epoch=1")
    data = batches(4)
    for step, (views, lengths) in enumerate(data[:3]):  # epoch 0: mu = 0
        _, logs = train_step(halp, views, lengths, Progress(0, step))
        assert "halp/kept_fraction" not in logs
    fresh = make("halp", "halp.start_epoch=0")
    _, logs = train_step(fresh, *data[0], Progress(1, 0))  # 8 of 16 slots filled
    assert "halp/kept_fraction" not in logs and int(fresh.prototypes_step) == -1
    _, logs = train_step(fresh, *data[1], Progress(1, 1))  # now full (16 enqueued)
    assert "halp/kept_fraction" not in logs
    loss, logs = train_step(fresh, *data[2], Progress(1, 2))
    assert "halp/kept_fraction" in logs and int(fresh.prototypes_step) == 2
    assert 0.0 < float(logs["halp/kept_fraction"]) <= 1.0
    assert 0.2 - 1e-6 <= float(logs["halp/t_over_tmax"]) <= 1.0


def test_prototypes_refresh_every_n_steps_and_are_unit_norm():
    halp = make("halp", "halp.start_epoch=0")
    refreshed = []
    for step, (views, lengths) in enumerate(batches(8)):
        _, logs = train_step(halp, views, lengths, Progress(0, step))
        if int(halp.prototypes_step) == step:
            refreshed.append(step)
        if step >= 2:  # every record after the first refresh carries the latest refresh time
            assert float(logs["halp/prototype_refresh_ms"]) > 0
    assert refreshed == [2, 4, 6]
    torch.testing.assert_close(halp.prototypes.norm(dim=1), torch.ones(3))


def test_halp_term_adds_gradient_only_through_the_query():
    halp = make("halp", "halp.start_epoch=0", "halp.mu=5.0")
    data = batches(3)
    for step, (views, lengths) in enumerate(data[:2]):
        train_step(halp, views, lengths, Progress(0, step))
    loss, logs = train_step(halp, *data[2], Progress(0, 2))
    assert loss.item() != pytest.approx(float(logs["loss/infonce"]))
    loss.backward()
    assert all(p.grad is None for p in halp.key_parameters())


def test_state_survives_a_state_dict_round_trip():
    halp = make("halp", "halp.start_epoch=0")
    for step, (views, lengths) in enumerate(batches(3)):
        train_step(halp, views, lengths, Progress(0, step))
    clone = make("halp", "halp.start_epoch=0")
    clone.load_state_dict(halp.state_dict())
    assert torch.equal(clone.prototypes, halp.prototypes) and int(clone.prototypes_step) == 2
    assert int(clone.num_enqueued) == 24 and clone.queue_full()


def test_bad_prototype_settings_fail_at_construction():
    with pytest.raises(ValueError, match="recent_keys"):
        make("halp", "halp.recent_keys=64")
    with pytest.raises(ValueError, match="num_prototypes"):
        make("halp", "halp.num_prototypes=1")
