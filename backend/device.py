"""Which torch device the worker owns, and what GetStatus says about it."""

from __future__ import annotations

import argparse
import os
import platform
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceInfo:
    kind: str
    name: str
    memory_total: int
    memory_free: int


def device_choice(text: str) -> str:
    """argparse type for --device: auto, cpu, mps, cuda or cuda:N (N a GPU index)."""
    choice = text.strip().lower()
    if choice in ("auto", "cpu", "cuda", "mps"):
        return choice
    kind, _, index = choice.partition(":")
    if kind == "cuda" and index.isdigit():
        return f"cuda:{int(index)}"
    raise argparse.ArgumentTypeError(
        f"'{text}' is not a device: use auto, cpu, cuda, cuda:N (N = 0, 1, ...) or mps"
    )


def pick_device(choice: str = "auto") -> torch.device:
    """``auto`` prefers CUDA, then MPS, then the CPU; an explicit choice must be available."""
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available (try --device auto)")
    if choice.startswith("cuda:"):
        index = int(choice.partition(":")[2])
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if index >= count:
            raise SystemExit(
                f"--device {choice}: this machine has {count} CUDA device(s)"
                + (f" (cuda:0 to cuda:{count - 1})" if count else "; try --device auto")
            )
        torch.cuda.set_device(index)  # anything that says plain "cuda" lands on this GPU too
    if choice == "mps" and not torch.backends.mps.is_available():
        raise SystemExit("--device mps: MPS is not available (try --device auto)")
    return torch.device(choice)


def _host_memory() -> tuple[int, int]:
    try:
        fields = {}
        with open("/proc/meminfo") as f:
            for line in f:
                key, value = line.split(":", 1)
                fields[key] = int(value.split()[0]) * 1024
        return fields["MemTotal"], fields.get("MemAvailable", fields["MemFree"])
    except OSError:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return pages, 0


def describe(device: torch.device) -> DeviceInfo:
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        return DeviceInfo("cuda", torch.cuda.get_device_name(device), total, free)
    total, free = _host_memory()
    name = platform.processor() or platform.machine()
    return DeviceInfo(device.type, f"{name} ({torch.get_num_threads()} threads)", total, free)
