"""Config files that inherit (`base:`) and `--print-config` (sslskel.engine.config_tree,
sslskel.engine.config_print): merge order, chains, lists, cycles, missing files, the source of
every value, and the shipped configs that use it."""

from __future__ import annotations

import pytest
import yaml

from sslskel.engine.config import ConfigError, load_config, to_dict
from sslskel.engine.config_print import config_sources, describe_config
from sslskel.engine.config_tree import read_config_file

from support import REPO


def write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


def test_a_file_overrides_its_base_key_by_key(tmp_path):
    write(tmp_path, "base.yaml", "optim: {lr: 0.1, epochs: 5}\nrun: {seed: 3}\nencoder: {args: {hidden_size: 8}}\n")
    child = write(tmp_path, "child.yaml", "base: base.yaml\noptim: {lr: 0.2}\nencoder: {args: {num_layers: 1}}\n")
    tree, sources = read_config_file(child)
    # mappings merge key by key; encoder.args is one value and replaced whole, as overrides do
    assert tree == {"optim": {"lr": 0.2, "epochs": 5}, "run": {"seed": 3}, "encoder": {"args": {"num_layers": 1}}}
    assert sources == {"optim.lr": str(child), "optim.epochs": str(tmp_path / "base.yaml"),
                       "run.seed": str(tmp_path / "base.yaml"), "encoder.args": str(child)}


def test_chains_and_lists_merge_in_order(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path, "a.yaml", "optim: {lr: 0.1, epochs: 5, batch_size: 4}\n")
    write(tmp_path, "b.yaml", "optim: {epochs: 6}\n")
    write(tmp_path / "sub", "c.yaml", "base: [../a.yaml, ../b.yaml]\noptim: {batch_size: 8}\n")
    d = write(tmp_path, "d.yaml", "base: sub/c.yaml\nrun: {seed: 1}\n")
    cfg = load_config(d)
    assert (cfg.optim.lr, cfg.optim.epochs, cfg.optim.batch_size, cfg.run.seed) == (0.1, 6, 8, 1)


def test_cycles_missing_files_and_bad_values_are_one_line_errors(tmp_path):
    write(tmp_path, "x.yaml", "base: y.yaml\n")
    write(tmp_path, "y.yaml", "base: x.yaml\n")
    with pytest.raises(ConfigError, match=r"x.yaml: base: the files inherit from each other in a cycle"):
        load_config(tmp_path / "x.yaml")
    write(tmp_path, "lost.yaml", "base: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"lost.yaml: base: no such file .*nowhere.yaml"):
        load_config(tmp_path / "lost.yaml")
    write(tmp_path, "bad.yaml", "base: {file: a.yaml}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: base: expected a file name or a list of file names"):
        load_config(tmp_path / "bad.yaml")
    write(tmp_path, "typo_base.yaml", "optim: {lrr: 1}\n")
    write(tmp_path, "uses_typo.yaml", "base: typo_base.yaml\n")
    with pytest.raises(ConfigError, match=r"unknown key 'optim.lrr'"):  # a base's keys are checked too
        load_config(tmp_path / "uses_typo.yaml")


def test_every_value_is_printed_with_its_source(tmp_path):
    write(tmp_path, "base.yaml", "optim: {lr: 0.1, epochs: 5}\n")
    child = write(tmp_path, "child.yaml", "base: base.yaml\noptim: {epochs: 7}\n")
    overrides = ["optim.lr=0.3", "run={seed: 4}"]
    cfg = load_config(child, overrides)
    text = describe_config(cfg, child, overrides)
    lines = {line.split("#")[0].strip(): line.split("# ")[-1] for line in text.splitlines() if "#" in line}
    assert lines["lr: 0.3"] == "command line" and lines["seed: 4"] == "command line"
    assert lines["epochs: 7"].endswith("child.yaml") and lines["gamma: 0.1"] == "default"
    # the text without its comments is the resolved config itself
    assert yaml.safe_load(text) == to_dict(cfg)
    assert config_sources(child, overrides)["optim.epochs"] == str(child)


def test_print_config_on_the_command_line(capsys):
    from sslskel.cli.pretrain import main

    assert main(["--method", "halp", "--print-config", "optim.lr=0.5"]) == 0
    out = capsys.readouterr().out
    assert "method: halp  # command line" in out and "  lr: 0.5  # command line" in out
    assert "  start_epoch: 18  # configs/synthetic/halp.yaml" in out or "halp.yaml" in out
    assert "  queue_size: 1024  #" in out and "moco.yaml" in out.split("  queue_size: 1024  #")[1].splitlines()[0]


@pytest.mark.parametrize("child, parent, section", [
    (child, parent, section)
    for folder in sorted((REPO / "configs").iterdir())
    for child, parent, section in (("halp", "moco", "halp"), ("vmoco", "moco", "vcl"), ("vsimclr", "simclr", "vcl"))
    if (folder / f"{child}.yaml").is_file()
    for child, parent in [(folder / f"{child}.yaml", folder / f"{parent}.yaml")]
], ids=lambda v: f"{v.parent.name}/{v.name}" if hasattr(v, "parent") else v)
def test_shipped_method_configs_are_their_base_plus_their_own_section(child, parent, section):
    """HaLP is MoCo plus the halp section, VMoCo MoCo plus vcl, VSimCLR SimCLR plus vcl: the
    child file holds nothing else, and resolves to exactly that."""
    own = yaml.safe_load(child.read_text())
    assert set(own) == {"base", "method", section}
    resolved, reference = to_dict(load_config(child)), to_dict(load_config(parent))
    assert {k: v for k, v in resolved.items() if k not in ("method", section)} == \
        {k: v for k, v in reference.items() if k != "method"}


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in (REPO / "configs").glob("*/base.yaml")))
def test_each_dataset_folder_shares_one_base(folder):
    """configs/<dataset>/base.yaml holds what the folder's pretraining configs share: moco.yaml
    (and simclr.yaml where there is one) is the base plus its method and own section."""
    base_keys = set(yaml.safe_load((REPO / "configs" / folder / "base.yaml").read_text()))
    assert "method" not in base_keys and {"data", "encoder", "optim", "run"} <= base_keys
    for name, section in (("moco", "moco"), ("simclr", "simclr")):
        path = REPO / "configs" / folder / f"{name}.yaml"
        if path.is_file():
            assert set(yaml.safe_load(path.read_text())) == {"base", "method", section}
            assert load_config(path).method == name
