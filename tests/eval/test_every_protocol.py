"""Every evaluation protocol against a run of every method, through linear_eval/run.py as a user
calls it: each either gives its result (exit 0) or refuses in one line `error: ...` (exit 2),
never a traceback (exit 1). Where a protocol applies to a method, it must run."""

import numpy as np
import pytest

from sslskel.data.prepare import write_cmd_layout
from sslskel.eval.protocols import PROTOCOLS
from sslskel.methods import METHODS

from support import load_script, make_tiny_clips

# which protocols a method's run must pass (the others must refuse in one line)
APPLIES = {"disentangle": {"cvmim"}, "uncertainty": {"vsimclr", "vmoco"}}
SMALL = ["data.frames=8", "data.num_workers=0", "encoder.args={hidden_size: 8, num_layers: 1}",
         "optim.batch_size=12", "optim.epochs=1", "optim.milestones=[]", "run.progress=false",
         "run.knn_every=0", "run.checkpoint_every=1", "linear.optim.epochs=1", "linear.optim.batch_size=12",
         "linear.optim.milestones=[]", "linear.knn_k=[1]"]
PER_METHOD = {
    "moco": ["moco.queue_size=24", "moco.mlp_hidden=8", "moco.feature_dim=8"],
    "halp": ["moco.queue_size=24", "moco.mlp_hidden=8", "moco.feature_dim=8", "halp.recent_keys=24",
             "halp.num_prototypes=4", "halp.start_epoch=0"],
    "vmoco": ["moco.queue_size=24", "moco.mlp_hidden=8", "moco.feature_dim=8"],
    "simclr": ["simclr.mlp_hidden=8", "simclr.feature_dim=8"],
    "vsimclr": ["simclr.mlp_hidden=8", "simclr.feature_dim=8"],
    "cvmim": ["cvmim.pose_dim=4", "cvmim.view_dim=4", "cvmim.critic_hidden=8"],
}


@pytest.fixture(scope="module")
def two_camera_dir(tmp_path_factory):
    """A CMD folder: 3 actions, subjects x replications x cameras 1 and 2 in both splits."""
    root = tmp_path_factory.mktemp("every_protocol")
    for split, n, seed in (("train", 36, 0), ("val", 24, 1)):
        data, lengths, _, _ = make_tiny_clips(n, 3, 12, seed)
        names = [f"S001C{1 + i % 2:03d}P{i // 12 + 1:03d}R{1 + (i // 6) % 2:03d}A{(i // 2) % 3 + 1:03d}"
                 for i in range(n)]
        labels = np.array([(i // 2) % 3 for i in range(n)])
        write_cmd_layout(root, split, data, num_frames=lengths, labels=labels, names=names)
    return root


def test_the_table_covers_every_method():
    assert set(PER_METHOD) == set(METHODS)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_protocol_on_a_run_of(method, two_camera_dir, tmp_path, capsys):
    pretrain, linear_eval = load_script("pretrain/run.py"), load_script("linear_eval/run.py")
    runs = tmp_path / "runs"
    assert pretrain.main(["--method", method, f"data.path={two_camera_dir}", "data.normalize=center",
                          f"run.out_dir={runs}", *SMALL, *PER_METHOD[method]]) == 0
    run = next(runs.iterdir())
    for protocol in PROTOCOLS:
        capsys.readouterr()
        code = linear_eval.main(["--run", str(run), "--protocols", protocol, "--quiet"])
        err = capsys.readouterr().err
        applies = method in APPLIES.get(protocol, set(METHODS))
        if applies:
            assert code == 0, f"{method} / {protocol}: exit {code}\n{err}"
            assert (run / f"eval_{protocol.replace('-', '_')}.json").is_file(), (method, protocol)
        else:
            lines = [line for line in err.splitlines() if line.startswith("error: ")]
            assert code == 2 and len(lines) == 1 and "Traceback" not in err, f"{method} / {protocol}: {err}"
