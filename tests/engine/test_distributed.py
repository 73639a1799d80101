"""DDP on CPU (gloo), as torchrun runs it: N processes equal one, state equal across processes,
exact resume, sharded feature extraction identical to one process."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslskel.common.checkpoint import load_checkpoint
from sslskel.engine.pretrain import run_pretraining
from sslskel.engine.run_log import read_metrics

from ddp_support import HALP, ddp_config, features_worker, gcl_worker, method_state_worker, spawn, write_ddp_data

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="this torch build has no gloo backend")

# 128 clips, global batch 64: 2 steps an epoch, 5 epochs = 10 steps; HaLP active from the
# first step its queue (128 keys) is full, i.e. 8 of the 10
TEN_STEPS = ("optim.batch_size=64", "optim.epochs=5", "optim.milestones=[4]", "moco.queue_size=128",
             "run.checkpoint_every=0")


@pytest.fixture(scope="module")
def ddp_data(tmp_path_factory):
    return write_ddp_data(tmp_path_factory.mktemp("ddp_data"))


def step_losses(run_dir) -> list[float]:
    return [r["train/loss"] for r in read_metrics(run_dir) if "train/loss" in r]


@pytest.mark.parametrize("method", ["moco", "halp"])
def test_two_processes_of_32_equal_one_of_64(ddp_data, tmp_path, method):
    extra = (*TEN_STEPS, *(HALP if method == "halp" else ()))
    one, _ = run_pretraining(ddp_config(ddp_data, tmp_path, *extra), run_dir=tmp_path / "one")
    spawn(method_state_worker, 2, ddp_data, tmp_path / "two", extra, tmp_path)
    reference, distributed = step_losses(one), step_losses(tmp_path / "two" / "run")
    assert len(reference) == len(distributed) == 10
    np.testing.assert_allclose(distributed, reference, rtol=2e-5, atol=2e-6)

    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    single = load_checkpoint(one / "checkpoints" / "last.pt")["method"]
    shared = ["queue", "queue_ptr", "num_enqueued"] + (["prototypes"] if method == "halp" else [])
    for key in ranks[0]:  # every weight and buffer identical across the processes
        assert torch.equal(ranks[0][key], ranks[1][key]), key
    for key in shared:
        torch.testing.assert_close(ranks[0][key], single[key], rtol=1e-4, atol=1e-5)
    if method == "halp":
        assert any("halp/kept_fraction" in r for r in read_metrics(tmp_path / "two" / "run"))


def test_resume_under_two_processes_is_exact(ddp_data, tmp_path):
    from ddp_support import pretrain_worker

    extra = (*TEN_STEPS, *HALP, "optim.epochs=4", "optim.batch_size=32", "moco.queue_size=64",
             "halp.recent_keys=32")
    spawn(pretrain_worker, 2, ddp_data, tmp_path / "straight", extra, tmp_path / "straight")
    first = tuple(e for e in extra if not e.startswith("optim.epochs")) + ("optim.epochs=2",)
    spawn(pretrain_worker, 2, ddp_data, tmp_path / "split", first, tmp_path / "split")
    spawn(pretrain_worker, 2, ddp_data, tmp_path / "split", ("optim.epochs=4",), tmp_path / "split", True)

    straight, split = step_losses(tmp_path / "straight"), step_losses(tmp_path / "split")
    assert len(straight) == 16 and split == straight
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    for key in a["method"]:
        assert torch.equal(a["method"][key], b["method"][key]), key
    assert len(b["rng_per_process"]) == 2


def test_sharded_features_equal_one_process(ddp_data, tmp_path):
    spawn(features_worker, 2, ddp_data, tmp_path)
    from sslskel.common.features import extract_features
    from sslskel.data.build import load_data
    from sslskel.data.transforms import CenterCrop
    from sslskel.engine.config import load_config
    from sslskel.models import build_encoder

    data = load_data(load_config(None, [f"data.path={ddp_data}"]).data, "val")
    torch.manual_seed(0)
    x, y = extract_features(build_encoder("gru", hidden_size=8, num_layers=1), data, CenterCrop(0.95, 16),
                            batch_size=5)  # 32 clips: 7 batches, the last one of 2, dealt 4 + 3
    for rank in range(2):
        got = np.load(tmp_path / f"features_rank{rank}.npz")
        assert np.array_equal(got["x"], x) and np.array_equal(got["y"], y)


@pytest.mark.parametrize("method, extra", [
    ("simclr", ("simclr.mlp_hidden=16", "simclr.feature_dim=8")),
    ("vmoco", ()),
    ("vsimclr", ("simclr.mlp_hidden=16", "simclr.feature_dim=8")),
    ("cvmim", ()),
])
def test_every_method_trains_under_two_processes(ddp_data, tmp_path, method, extra):
    """The other methods (gathered negatives, posterior noise and CV-MIM's cameras drawn for the
    global batch, CV-MIM's three optimisers) against one process, and their state equal across
    the processes."""
    queue = ("moco.queue_size=64",) if "moco" in method else ()
    args = (f"method={method}", "optim.batch_size=32", "optim.epochs=1", *queue, "run.checkpoint_every=0", *extra)
    one, _ = run_pretraining(ddp_config(ddp_data, tmp_path, *args), run_dir=tmp_path / "one")
    spawn(method_state_worker, 2, ddp_data, tmp_path / "two", args, tmp_path)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), key
    reference, distributed = step_losses(one), step_losses(tmp_path / "two" / "run")
    assert len(reference) == len(distributed) == 4
    np.testing.assert_allclose(distributed, reference, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("supcon", ["supcon", "vsupcon"])
def test_finetuning_with_supcon_under_two_processes_equals_one(ddp_data, tmp_path, supcon):
    """Fine-tuning: gathered SupCon positives / negatives, posterior noise for the global batch,
    synchronised BatchNorm, sharded evaluation (128 train clips: 4 whole batches of 32; the
    padded last batch of an uneven split is the sampler's test, tests/data/test_dataset.py)."""
    import json

    from ddp_support import finetune_worker

    extra = ("finetune.optim.epochs=2", "finetune.optim.batch_size=32", "finetune.optim.milestones=[1]")
    (tmp_path / "one_").mkdir()
    (tmp_path / "two_").mkdir()
    spawn(finetune_worker, 1, ddp_data, tmp_path / "one", extra, supcon, tmp_path / "one_")
    spawn(finetune_worker, 2, ddp_data, tmp_path / "two", extra, supcon, tmp_path / "two_")
    one = json.loads((tmp_path / "one_" / "finetune_rank0.json").read_text())
    two = [json.loads((tmp_path / "two_" / f"finetune_rank{r}.json").read_text()) for r in range(2)]
    drop = lambda history: [{k: v for k, v in h.items() if k != "train_seconds"} for h in history]  # noqa: E731
    assert drop(two[0]) == drop(two[1])  # every process reports the same (averaged) numbers
    for a, b in zip(one, two[0]):
        for key in ("loss", "loss_ce", "loss_supcon", "top1"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), key


@pytest.mark.slow  # ~45 s: four scripts, each started in two processes
def test_the_entry_points_run_under_two_processes(ddp_data, tmp_path):
    """pretrain/run.py, linear_eval/run.py and semi_sup/run.py as torchrun starts them: one run
    directory, written by rank 0, and the same exit code everywhere."""
    from ddp_support import cli_worker

    runs = tmp_path / "runs"
    common = [f"data.path={ddp_data}", "data.frames=16", "encoder.args={hidden_size: 8, num_layers: 1}",
              "run.progress=false", "run.threads=1"]
    spawn(cli_worker, 2, "pretrain/run.py", ["--method", "moco", *common, f"run.out_dir={runs}",
                                              "moco.queue_size=64", "moco.mlp_hidden=16", "moco.feature_dim=8",
                                              "optim.batch_size=32", "optim.epochs=2", "optim.milestones=[1]",
                                              "run.knn_every=1"], tmp_path)
    assert [(tmp_path / f"exit_rank{r}.txt").read_text() for r in range(2)] == ["0", "0"]
    (run,) = list(runs.iterdir())
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"last.pt"}
    assert not list(run.rglob("*.tmp"))
    spawn(cli_worker, 2, "linear_eval/run.py", ["--run", str(run), "--protocols", "knn,linear", "--quiet",
                                                 "linear.optim.epochs=2", "linear.optim.batch_size=32",
                                                 "linear.optim.milestones=[1]"], tmp_path)
    assert [(tmp_path / f"exit_rank{r}.txt").read_text() for r in range(2)] == ["0", "0"]
    assert (run / "eval_linear.json").is_file() and (run / "eval_knn.json").is_file()
    scratch = tmp_path / "scratch"
    spawn(cli_worker, 2, "supervised/run.py", ["--seeds", "1", "--supcon", "vsupcon", *common,
                                                f"run.out_dir={scratch}", "finetune.optim.epochs=1",
                                                "finetune.optim.batch_size=32"], tmp_path)
    assert [(tmp_path / f"exit_rank{r}.txt").read_text() for r in range(2)] == ["0", "0"]
    (run,) = list(scratch.iterdir())  # one run directory, named by rank 0
    assert (run / "supervised_scratch_vsupcon.json").is_file()


def test_skeletongcl_banks_are_fed_the_global_batch(ddp_data, tmp_path):
    extra = ("encoder.name=ctrgcn", "encoder.args={base_channels: 8}", "gcl.per_class=64", "gcl.dim=16",
             "gcl.num_hard_positives=4", "gcl.num_hard_negatives=6", "gcl.num_random_negatives=6",
             "gcl.enabled=true", "data.frames=8", "finetune.optim.epochs=1", "finetune.optim.batch_size=32",
             # CTR-GCN's BatchNorms over constant channels (the absent second body) make some bias
             # gradients ill-conditioned: torch's closed-form BN backward and the synchronised one
             # differ there by ~7e-3 x lr per step, so a small lr keeps the comparison about GCL
             "finetune.optim.lr=0.001")
    (tmp_path / "one").mkdir()
    spawn(gcl_worker, 1, ddp_data, tmp_path / "one", extra, tmp_path / "one")
    spawn(gcl_worker, 2, ddp_data, tmp_path / "two", extra, tmp_path)
    ranks = [torch.load(tmp_path / f"gcl_rank{r}.pt", weights_only=False) for r in range(2)]
    one = torch.load(tmp_path / "one" / "gcl_rank0.pt", weights_only=False)
    for key in ("loss", "loss_ce", "loss_instance", "loss_semantic"):  # random negatives drawn for the global batch
        assert ranks[0]["history"][-1][key] == pytest.approx(one["history"][-1][key], rel=2e-5, abs=1e-6), key
    for key, value in ranks[0]["banks"].items():
        assert torch.equal(value, ranks[1]["banks"][key]), key
    assert ranks[0]["history"][-1]["loss_instance"] > 0
    # the per-class FIFOs (capped at the smallest class, 42 clips) are full after one epoch only
    # if every process wrote all 128 samples (4 steps x 2 processes x 16), not its own 64
    (count,) = [v for k, v in ranks[0]["banks"].items() if k.endswith("fill_count")]
    assert count.tolist() == [42, 42, 42]


@pytest.mark.slow  # ~35 s: three runs of two processes
def test_fine_tuning_resume_under_two_processes_is_exact(ddp_data, tmp_path):
    """Each process draws from its own RNG (`RankNoise`: rank + 1 rows a step), so the processes'
    states differ; a resume continues exactly only if each gets its own back (the plain
    reference: the same run straight through)."""
    from ddp_support import finetune_resume_worker

    extra = ("finetune.optim.epochs=3", "finetune.optim.batch_size=32", "finetune.optim.milestones=[]",
             "run.checkpoint_every=0")
    first = extra[1:] + ("finetune.optim.epochs=2",)
    for name in ("straight", "split"):
        (tmp_path / f"{name}_out").mkdir()
    spawn(finetune_resume_worker, 2, ddp_data, tmp_path / "straight", extra, False, tmp_path / "straight_out")
    spawn(finetune_resume_worker, 2, ddp_data, tmp_path / "split", first, False, tmp_path / "split_out")
    spawn(finetune_resume_worker, 2, ddp_data, tmp_path / "split", extra, True, tmp_path / "split_out")

    drop = lambda history: [{k: v for k, v in h.items() if k != "train_seconds"} for h in history]  # noqa: E731
    for rank in range(2):
        a = torch.load(tmp_path / "straight_out" / f"tune_rank{rank}.pt")
        b = torch.load(tmp_path / "split_out" / f"tune_rank{rank}.pt")
        assert drop(b["history"]) == drop(a["history"]) and len(a["history"]) == 3
        for key in a["encoder"]:
            assert torch.equal(a["encoder"][key], b["encoder"][key]), (rank, key)
    assert len(load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["rng_per_process"]) == 2
