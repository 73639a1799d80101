import pytest

from sslskel.engine.config import Config, ConfigError, load_config, save_config


def test_defaults_are_the_paper_moco():
    cfg = load_config(None)
    assert isinstance(cfg, Config)
    assert (cfg.moco.queue_size, cfg.moco.momentum, cfg.moco.temperature) == (16384, 0.999, 0.07)
    assert (cfg.optim.lr, cfg.optim.batch_size, cfg.optim.milestones) == (0.01, 64, [350])


def test_overrides_are_read_as_yaml_and_typed():
    cfg = load_config(None, ["optim.lr=1e-3", "optim.milestones=[10, 20]", "run.progress=false",
                             "data.path=null", "optim.momentum=1"])
    assert cfg.optim.lr == 0.001 and cfg.optim.milestones == [10, 20]
    assert cfg.run.progress is False and cfg.data.path is None
    assert cfg.optim.momentum == 1.0 and isinstance(cfg.optim.momentum, float)  # int accepted for float


@pytest.mark.parametrize("override, words", [
    ("optim.lrr=0.1", ["unknown key 'optim.lrr'", "lr", "weight_decay"]),
    ("optimm.lr=0.1", ["unknown key 'optimm'", "optim", "moco"]),
    ("halp.mu=high", ["halp.mu", "expected float", "'high'"]),
    ("optim.epochs=2.5", ["optim.epochs", "expected int"]),
    ("optim.epochs=true", ["optim.epochs", "expected int"]),
    ("optim.milestones=5", ["optim.milestones", "expected a list"]),
    ("encoder.args={hidden: 4}", ["encoder.args.hidden", "hidden_size", "num_layers"]),
    ("encoder.name=transformer", ["encoder.name", "gru", "stgcn"]),
    ("optim.lr", ["KEY=VALUE"]),
])
def test_bad_keys_and_types_fail_naming_the_key(override, words):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    for word in words:
        assert word in str(info.value)


def test_yaml_file_typo_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("method: moco\noptim:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'optim.learning_rate'"):
        load_config(path)


def test_file_then_overrides_then_round_trip(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method: halp\nhalp:\n  mu: 2.0\n")
    cfg = load_config(path, ["halp.mu=0.5"])
    assert cfg.method == "halp" and cfg.halp.mu == 0.5 and cfg.halp.num_prototypes == 20
    save_config(cfg, tmp_path / "out.yaml")
    assert load_config(tmp_path / "out.yaml") == cfg


def test_shipped_configs_all_load():
    from pathlib import Path

    paths = sorted(Path(__file__).resolve().parents[2].glob("configs/*/*.yaml"))
    assert len(paths) >= 12
    for path in paths:
        load_config(path)
