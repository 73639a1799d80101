"""run.amp (sslskel.common.device.amp_dtype): bf16 autocast where the hardware runs it natively."""

import pytest
import torch

from sslskel.common import device as device_module
from sslskel.common.device import amp_dtype, autocast


@pytest.mark.parametrize("native, expected", [(True, torch.bfloat16), (False, None)])
def test_auto_on_cpu_follows_native_bf16(monkeypatch, native, expected):
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: native)
    assert amp_dtype(torch.device("cpu"), "auto") is expected


def test_explicit_modes_and_cuda():
    cpu = torch.device("cpu")
    assert amp_dtype(cpu, "off") is None
    assert amp_dtype(cpu, "bf16") is torch.bfloat16  # asked for: also where it is emulated
    assert amp_dtype(torch.device("cuda"), "auto") is torch.bfloat16
    assert amp_dtype(torch.device("meta"), "auto") is None
    with pytest.raises(ValueError, match="run.amp"):
        amp_dtype(cpu, "fp16")


def test_autocast_runs_matrix_products_in_bf16_under_auto(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: True)
    with autocast(torch.device("cpu"), "auto"):
        assert (torch.ones(2, 3) @ torch.ones(3, 2)).dtype is torch.bfloat16
    with autocast(torch.device("cpu"), "off"):
        assert (torch.ones(2, 3) @ torch.ones(3, 2)).dtype is torch.float32
