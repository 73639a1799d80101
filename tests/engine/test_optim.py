"""sslskel.engine.optim: one optimiser per group, each loss into its own group only, per-group
schedules, checkpointed state; against plain hand-written optimiser code."""

import copy

import pytest
import torch

from sslskel.engine.config import OptimConfig
from sslskel.engine.optim import GroupOptimizers, build_optimizer


def params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.nn.Parameter(torch.randn(4, generator=g)), torch.nn.Parameter(torch.randn(4, generator=g)))


def losses_of(w, c):
    shared = (w * c).sum()  # flows into both
    return {"main": shared + w.pow(2).sum(), "critic": (w.detach() - c).pow(2).sum() - shared}


def test_each_loss_updates_only_its_group_as_separate_optimisers_would():
    cfg = OptimConfig(lr=0.1, momentum=0.9, weight_decay=0.0, groups={"critic": {"optimizer": "adam", "lr": 0.01}})
    w, c = params()
    opt = GroupOptimizers({"main": [w], "critic": [c]}, cfg)
    w_ref, c_ref = (p.detach().clone().requires_grad_(True) for p in (w, c))
    sgd = torch.optim.SGD([w_ref], lr=0.1, momentum=0.9)
    adam = torch.optim.Adam([c_ref], lr=0.01, weight_decay=0.0)  # inherited from optim
    for _ in range(3):
        opt.step(losses_of(w, c))
        ref = losses_of(w_ref, c_ref)
        (grad_w,) = torch.autograd.grad(ref["main"], [w_ref], retain_graph=True)
        (grad_c,) = torch.autograd.grad(ref["critic"], [c_ref])
        w_ref.grad, c_ref.grad = grad_w, grad_c
        sgd.step()
        adam.step()
        torch.testing.assert_close(w, w_ref, rtol=0, atol=0)
        torch.testing.assert_close(c, c_ref, rtol=0, atol=0)


def test_one_group_is_exactly_a_plain_backward_and_step():
    cfg = OptimConfig(lr=0.1, nesterov=True)
    w, c = params()
    w2, c2 = copy.deepcopy(w), copy.deepcopy(c)
    opt = GroupOptimizers({"main": [w, c]}, cfg)
    plain = build_optimizer([w2, c2], cfg)
    for _ in range(3):
        opt.step({"main": losses_of(w, c)["main"]})
        plain.zero_grad()
        losses_of(w2, c2)["main"].backward()
        plain.step()
    assert torch.equal(w, w2) and torch.equal(c, c2)


def test_per_group_schedules_and_state_round_trip():
    cfg = OptimConfig(lr=0.1, milestones=[2], warmup_epochs=0,
                      groups={"critic": {"lr": 1.0, "milestones": [1], "gamma": 0.5, "warmup_epochs": 2}})
    w, c = params()
    opt = GroupOptimizers({"main": [w], "critic": [c]}, cfg)
    assert [opt.set_epoch(e) for e in range(3)] == [{"main": 0.1, "critic": 0.5}, {"main": 0.1, "critic": 1.0},
                                                     {"main": pytest.approx(0.01), "critic": 0.5}]
    assert opt.optimizers["critic"].param_groups[0]["lr"] == 0.5
    opt.step(losses_of(w, c))
    state = opt.state_dict()
    w2, c2 = params(1)
    other = GroupOptimizers({"main": [w2], "critic": [c2]}, cfg)
    other.load_state_dict(state)
    assert torch.equal(other.optimizers["main"].state_dict()["state"][0]["momentum_buffer"],
                       opt.optimizers["main"].state_dict()["state"][0]["momentum_buffer"])
    with pytest.raises(ValueError, match=r"groups \['main'\] do not match this run's \['critic', 'main'\]"):
        other.load_state_dict({"main": state["main"]}, source="x.pt")


def test_bad_groups_are_refused():
    w, c = params()
    with pytest.raises(ValueError, match="both group 'main' and group 'critic'"):
        GroupOptimizers({"main": [w, c], "critic": [c]}, OptimConfig())
    opt = GroupOptimizers({"main": [w]}, OptimConfig())
    with pytest.raises(ValueError, match=r"unknown parameter group\(s\) \['critic'\]"):
        opt.step({"critic": c.sum()})


def test_adagrad_is_available_for_cv_mim():
    (w, _) = params()
    opt = build_optimizer([w], OptimConfig(optimizer="adagrad", lr=0.02, weight_decay=0.0))
    assert isinstance(opt, torch.optim.Adagrad) and opt.param_groups[0]["lr"] == 0.02
