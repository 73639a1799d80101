import pytest

from sslskel.engine.config import Config, ConfigError, load_config, save_config, to_dict


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
        load_config(None, ["method=halp", override])
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("method: moco\noptim:\n  learning_rate: 0.1\n", r"bad.yaml: unknown key 'optim.learning_rate'"),
    ("optim:\n  epochs: -1\n", r"bad\.yaml: optim\.epochs: expected an integer >= 1, got -1$"),  # a range
])
def test_yaml_file_error_names_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
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


def test_sections_come_from_the_chosen_method():
    moco, halp = load_config(None, []), load_config(None, ["method=halp"])
    assert hasattr(moco, "moco") and not hasattr(moco, "halp")
    assert halp.halp.num_prototypes == 20 and halp.moco.queue_size == 16384
    with pytest.raises(ConfigError, match=r"unknown key 'halp.mu' for method 'moco'; halp.\* needs --method halp"):
        load_config(None, ["halp.mu=2"])
    with pytest.raises(ConfigError, match=r"method: unknown method 'byol'; valid: cvmim, halp, moco, simclr, vmoco, vsimclr"):
        load_config(None, ["method=byol"])
    # a method's own checks run at start-up, not when its term switches on
    with pytest.raises(ConfigError, match=r"halp.filter: expected one of rank, variant1, variant2, none, got 'foo'"):
        load_config(None, ["method=halp", "halp.filter=foo"])
    with pytest.raises(ConfigError, match=r"halp.kmeans_backend: expected one of torch, geomstats"):
        load_config(None, ["method=halp", "halp.kmeans_backend=foo"])


def test_nested_optimiser_sections_and_their_errors():
    cfg = load_config(None, ["finetune.optim.lr=0.2", "linear.optim.epochs=5"])
    assert cfg.finetune.optim.lr == 0.2 and cfg.finetune.optim.milestones == [50, 70]
    assert cfg.linear.optim.epochs == 5 and cfg.linear.optim.lr == 0.1 and cfg.linear.optim.weight_decay == 0.0
    with pytest.raises(ConfigError, match=r"unknown key 'finetune.lr'.*did you mean 'finetune.optim.lr'"):
        load_config(None, ["finetune.lr=0.1"])
    with pytest.raises(ConfigError, match=r"finetune.optim.optimizer: expected one of sgd, adam, adagrad, got 'rms'"):
        load_config(None, ["finetune.optim.optimizer=rms"])
    with pytest.raises(ConfigError, match=r"linear.optim.groups.critic: linear has no parameter group 'critic'"):
        load_config(None, ["linear.optim.groups.critic.lr=1"])
    with pytest.raises(ConfigError, match=r"optim.groups.main: group main is set by the keys of optim itself"):
        load_config(None, ["optim.groups.main.lr=1"])


def test_on_off_yes_no_are_words_not_booleans(tmp_path):
    # YAML 1.1 read them as booleans, so `run.amp=off` (a documented value) was refused as a bool
    assert load_config(None, ["run.amp=off"]).run.amp == "off"
    path = tmp_path / "c.yaml"
    path.write_text("run:\n  amp: off\n  progress: false\n")
    cfg = load_config(path)
    assert cfg.run.amp == "off" and cfg.run.progress is False
    with pytest.raises(ConfigError, match=r"run.progress: expected bool, got 'no'"):
        load_config(None, ["run.progress=no"])


def test_the_file_is_named_only_for_its_own_mistakes(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  epochs: 0\n")
    with pytest.raises(ConfigError, match=r"^.*c\.yaml: optim\.epochs: expected an integer >= 1, got 0$"):
        load_config(path)
    path.write_text("optim:\n  epochs: 3\n")
    with pytest.raises(ConfigError, match=r"^optim\.epochs: expected an integer >= 1, got -1$"):
        load_config(path, ["optim.epochs=-1"])
    with pytest.raises(ConfigError, match=r"^unknown key 'optim\.lrr'"):
        load_config(path, ["optim.lrr=1"])


def test_auxiliary_loss_sections_only_where_asked_for():
    """A pretraining config does not carry the supervised stage's gcl / supcon sections; the
    supervised stage (auxiliary=True), a config naming them, or a run saved with them has them."""
    from sslskel.methods.auxiliary import AUXILIARY_SETTINGS

    plain = load_config(None, [])
    assert not any(hasattr(plain, s) for s in AUXILIARY_SETTINGS) and "gcl" not in to_dict(plain)
    stage = load_config(None, [], auxiliary=True)
    assert stage.gcl.per_class > 0 and stage.supcon.temperature > 0
    named = load_config(None, ["gcl.per_class=7"])
    assert named.gcl.per_class == 7 and not hasattr(named, "supcon")
    saved = to_dict(stage)  # an older run's config.yaml held both sections
    assert to_dict(load_config(None, [], base=saved)) == saved
