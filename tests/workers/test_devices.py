"""A worker's devices: nvidia-smi's list (a stand-in script on PATH prints its CSV), narrowed or made up by
RLAB_GPUS, and a bad RLAB_GPUS refused by `rlab worker` with exit status 2."""

import os
import subprocess
import sys

import pytest

from tests.services import service_env
from workers.devices import Device, DeviceSettingError, machine_devices, parse_gpu_ids

NVIDIA_SMI_CSV = "0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n"


@pytest.fixture
def two_listed_gpus(tmp_path, monkeypatch):
    script = tmp_path / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '{NVIDIA_SMI_CSV}'\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


def test_every_listed_gpu_or_those_rlab_gpus_names(two_listed_gpus):
    h100 = "NVIDIA H100 80GB HBM3"
    assert machine_devices(None) == [Device("0", h100, 81559), Device("1", h100, 81559)]
    assert machine_devices("1") == [Device("1", h100, 81559)]
    assert machine_devices("1,7") == [Device("1", h100, 81559), Device("7", "unknown", None)]
    assert machine_devices("") == []


def test_rlab_gpus_must_name_each_device_once():
    assert parse_gpu_ids(" 0, 1 ,2,") == ["0", "1", "2"]
    with pytest.raises(DeviceSettingError, match="names a device twice"):
        parse_gpu_ids("0,1,0")
    with pytest.raises(DeviceSettingError, match="expected device ids"):
        parse_gpu_ids("0;1")


def test_the_worker_refuses_a_bad_rlab_gpus(tmp_path):
    env = service_env("sqlite://", "filesystem://localhost//", RLAB_VAR_DIR=str(tmp_path), RLAB_GPUS="0,0")
    env.pop("DATABASE_URL")
    result = subprocess.run(
        [sys.executable, "-m", "rlab.cli", "worker", "--queue", "gpu"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "RLAB_GPUS='0,0' names a device twice" in result.stderr
