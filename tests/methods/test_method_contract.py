"""The method contract, exercised by a method defined here and registered at run time:
its own settings section, its own rule between sections (`check_config`), two parameter groups
(an encoder and a critic with its own optimiser and lr), exact resume of both optimisers
(4 epochs == 2 + 2), per-group logs, evaluation through the command line. Nothing under
sslskel/engine or sslskel/eval knows about this method: this file and one registry line
(`METHODS["toy_critic"] = ToyCritic`, here by monkeypatch) are all it takes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from sslskel.common.checkpoint import load_checkpoint
from sslskel.engine.config import ConfigError, load_config
from sslskel.engine.pretrain import run_pretraining
from sslskel.engine.run_log import read_metrics
from sslskel.methods import METHODS
from sslskel.methods.base import PretrainMethod

from support import TINY_OVERRIDES


@dataclass
class CriticSettings:
    hidden: int = 8
    weight: float = 0.1  # how hard the encoder tries to fool the critic

    def __post_init__(self):
        if self.hidden < 1:
            raise ValueError(f"toy_critic.hidden: expected a positive integer, got {self.hidden}")


class ToyCritic(PretrainMethod):
    """Features pulled together across two views; a critic tells first from second views,
    and the encoder is rewarded for fooling it (a small adversarial game, as CV-MIM's D)."""

    name = "toy_critic"
    settings = {"toy_critic": CriticSettings}
    groups = ("main", "critic")

    def __init__(self, cfg, in_channels=3, num_persons=2):
        super().__init__(cfg, in_channels, num_persons)
        s = cfg.toy_critic
        self.weight = s.weight
        self.critic = nn.Sequential(nn.Linear(self.encoder.feature_dim, s.hidden), nn.ReLU(), nn.Linear(s.hidden, 1))
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.long))

    @classmethod
    def check_config(cls, cfg):
        # a rule between this method's section and another: load_config reports it at start-up
        if cfg.toy_critic.hidden > cfg.optim.batch_size * 8:
            raise ValueError(f"toy_critic.hidden, optim.batch_size: expected toy_critic.hidden <= 8 x "
                             f"optim.batch_size, got {cfg.toy_critic.hidden} > 8 x {cfg.optim.batch_size}")

    def parameter_groups(self):
        return {"main": list(self.encoder.parameters()), "critic": list(self.critic.parameters())}

    def training_step(self, batch, progress):
        z1 = self.encoder(batch.views[0], batch.lengths[:, 0])
        z2 = self.encoder(batch.views[1], batch.lengths[:, 1])
        which = torch.cat([torch.ones(len(z1)), torch.zeros(len(z2))]).to(z1.device)
        bce = nn.functional.binary_cross_entropy_with_logits
        logits = self.critic(torch.cat([z1, z2])).squeeze(1)
        critic_loss = bce(self.critic(torch.cat([z1, z2]).detach()).squeeze(1), which)
        align = (nn.functional.normalize(z1, dim=1) - nn.functional.normalize(z2, dim=1)).pow(2).sum(1).mean()
        main_loss = align - self.weight * bce(logits, which)
        self.steps_seen += 1
        return {"main": main_loss, "critic": critic_loss}, {"toy/align": align.detach()}


@pytest.fixture
def toy_config(tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(METHODS, "toy_critic", ToyCritic)
    base = [o for o in TINY_OVERRIDES if not o.startswith("moco.")]

    def make(*extra):
        return load_config(None, [f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path / 'runs'}", *base,
                                  "method=toy_critic", "toy_critic.weight=0.5", "run.knn_every=0",
                                  "optim.groups={critic: {optimizer: adam, lr: 0.003, milestones: [3]}}",
                                  *extra])
    return make


def test_settings_section_is_the_methods_own(toy_config):
    cfg = toy_config()
    assert cfg.toy_critic.weight == 0.5 and cfg.toy_critic.hidden == 8 and not hasattr(cfg, "moco")
    with pytest.raises(ConfigError, match=r"unknown key 'toy_critic.hiden'; valid keys of 'toy_critic': hidden, weight"):
        toy_config("toy_critic.hiden=4")
    with pytest.raises(ConfigError, match=r"toy_critic.hidden: expected a positive integer, got 0"):
        toy_config("toy_critic.hidden=0")
    with pytest.raises(ConfigError, match=r"^toy_critic.hidden, optim.batch_size: expected toy_critic.hidden <= "
                                          r"8 x optim.batch_size, got 200 > 8 x 16$"):
        toy_config("toy_critic.hidden=200")
    with pytest.raises(ConfigError, match=r"optim.groups.critc: method 'toy_critic' has no parameter group 'critc'; valid: critic"):
        toy_config("optim.groups.critc.lr=1")
    with pytest.raises(ConfigError, match=r"unknown key 'optim.groups.critic.epochs'"):
        toy_config("optim.groups.critic.epochs=3")
    with pytest.raises(ConfigError, match=r"optim.groups.critic.lr: expected float"):
        toy_config("optim.groups.critic.lr=fast")


def test_two_groups_train_log_per_group_and_resume_exactly(toy_config, tmp_path):
    straight, summary = run_pretraining(toy_config("optim.epochs=4", "optim.milestones=[2]"),
                                        run_dir=tmp_path / "straight")
    split, _ = run_pretraining(toy_config("optim.epochs=2", "optim.milestones=[2]"), run_dir=tmp_path / "split")
    run_pretraining(load_config(split / "config.yaml", ["optim.epochs=4"]), resume_dir=split)

    def records(run):
        return [{k: v for k, v in r.items() if k != "time" and "samples_per_s" not in k}
                for r in read_metrics(run) if "train/loss" in r]

    assert records(split) == records(straight) and len(records(straight)) == 4 * 3
    first, last = records(straight)[0], records(straight)[-1]
    # each group follows its own schedule: main 0.05 -> 0.005 at epoch 2, critic 0.003 -> 0.0003 at 3
    assert (first["train/lr"], first["train/lr_critic"]) == (0.05, 0.003)
    assert last["train/lr"] == pytest.approx(0.005) and last["train/lr_critic"] == pytest.approx(0.0003)
    assert {"train/loss_critic", "toy/align"} <= set(first)
    assert {"epoch/loss", "epoch/loss_critic"} <= set(summary)

    a, b = (load_checkpoint(run / "checkpoints" / "last.pt") for run in (straight, split))
    assert sorted(a["optimizers"]) == ["critic", "main"]
    assert a["optimizers"]["critic"]["state"][0]["exp_avg"].abs().sum() > 0  # the critic's own Adam
    assert "momentum_buffer" in a["optimizers"]["main"]["state"][0]  # main: SGD
    for key in a["method"]:
        assert torch.equal(a["method"][key], b["method"][key]), key
    for group in ("main", "critic"):
        for index, state in a["optimizers"][group]["state"].items():
            for name, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(b["optimizers"][group]["state"][index][name]))
    assert int(a["method"]["steps_seen"]) == 12


def test_a_parameter_outside_every_group_is_refused(toy_config, monkeypatch):
    monkeypatch.setattr(ToyCritic, "parameter_groups", lambda self: {"main": list(self.encoder.parameters()),
                                                                     "critic": []})
    with pytest.raises(ValueError, match=r"trainable parameters in no group: \['critic.0.weight'"):
        run_pretraining(toy_config())


def test_runs_of_the_method_evaluate_through_the_command_line(toy_config, tmp_path, capsys):
    """linear_eval reads the run as any other: the encoder's features, and the extra protocols
    the method declares (none here: uncertainty is refused, naming the method)."""
    from sslskel.cli.evaluate import main as evaluate_main

    run_dir, _ = run_pretraining(toy_config("optim.epochs=1"), run_dir=tmp_path / "toy_run")
    assert evaluate_main(["--run", str(run_dir), "--quiet", "--protocols", "knn"]) == 0
    assert "kNN k=1" in capsys.readouterr().out and (run_dir / "eval_knn.json").is_file()
    assert evaluate_main(["--run", str(run_dir), "--quiet", "--protocols", "uncertainty"]) == 2
    assert "a toy_critic run (it has no posterior" in capsys.readouterr().err
