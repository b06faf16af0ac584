"""The GPUs of this worker's machine: what nvidia-smi lists, narrowed (or, on a machine without GPUs, made
up for tests) by RLAB_GPUS=0,1,2,3. No torch here: the worker's main process reports its devices before any
job loads CUDA."""

import shutil
import subprocess
from dataclasses import asdict, dataclass

NVIDIA_SMI_TIMEOUT_SECONDS = 20
NVIDIA_SMI_QUERY = ["--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"]


class DeviceSettingError(ValueError):
    """RLAB_GPUS names a device twice or is not a comma-separated list of ids."""


@dataclass(frozen=True)
class Device:
    id: str  # the CUDA index a job's CUDA_VISIBLE_DEVICES names
    model: str
    memory_mb: int | None

    def as_json(self) -> dict:
        return asdict(self)


def listed_gpus() -> dict[str, Device]:
    """id → Device of every GPU nvidia-smi lists; none where it is missing or fails."""
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return {}
    try:
        output = subprocess.run(
            [binary, *NVIDIA_SMI_QUERY],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_SECONDS,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    devices = {}
    for line in output.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 3:
            index, model, memory = parts
            devices[index] = Device(index, model, int(memory) if memory.isdigit() else None)
    return devices


def parse_gpu_ids(setting: str) -> list[str]:
    """`RLAB_GPUS` → device ids in order ("" → none)."""
    ids = [part.strip() for part in setting.split(",") if part.strip()]
    if any(not part.isalnum() for part in ids):
        raise DeviceSettingError(f"RLAB_GPUS={setting!r}: expected device ids and commas, e.g. 0,1,2,3")
    if len(set(ids)) != len(ids):
        raise DeviceSettingError(f"RLAB_GPUS={setting!r} names a device twice")
    return ids


def machine_devices(setting: str | None) -> list[Device]:
    """The devices a gpu worker places jobs on: every GPU nvidia-smi lists, or the ids `setting` (RLAB_GPUS)
    names — described from nvidia-smi where it lists them, as `unknown` where it does not (fake devices)."""
    listed = listed_gpus()
    if setting is None:
        return list(listed.values())
    return [listed.get(i, Device(i, "unknown", None)) for i in parse_gpu_ids(setting)]
