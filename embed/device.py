"""Device and numeric precision, chosen per machine.

bf16 is only a win on CPUs with AMX tiles. Measured with ViT-B-32, batch 64, 2 cores: a CPU with
AMX embeds 147 img/s in bf16 against 29 img/s in fp32; one with AVX-512 bf16 but no AMX embeds
14.5 img/s in bf16 against 25.8 img/s in fp32 (torch 2.15, oneDNN 3.13) — slower, not faster.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
BF16_CPU_FLAGS = frozenset({"amx_bf16"})
# Short text queries are bound by reading the text tower's weights, so halving them pays on any
# CPU that computes in bf16 natively: one ViT-B-32 query in 12 ms in bf16 against 21 ms in
# fp32 on the AVX-512 bf16 CPU above that has no AMX.
BF16_TEXT_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})

# int8: an fp32 model whose image tower's linear layers run in dynamic int8 (CPU only)
TORCH_DTYPES = {
    "fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32,
}  # fmt: skip


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The feature flags of this CPU (from /proc/cpuinfo; empty where it does not exist)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def cpu_has_bf16_units(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has AMX bf16 tiles, the units that make bf16 inference pay."""
    return bool(BF16_CPU_FLAGS & cpu_flags(cpuinfo))


def choose_device(requested: str = "auto") -> str:
    """'cuda' when asked for or available on auto, else 'cpu'."""
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {requested!r}")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def choose_precision(device: str, requested: str = "auto", cpuinfo: str | None = None) -> str:
    """fp16 on CUDA; on CPU bf16 only where the CPU has AMX, fp32 otherwise."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    if requested == "int8" and device != "cpu":
        raise ValueError("precision int8 runs on the CPU only; use fp16 or bf16 on CUDA")
    if requested != "auto":
        return requested
    if device == "cuda":
        return "fp16"
    return "bf16" if cpu_has_bf16_units(cpuinfo) else "fp32"


def choose_text_precision(device: str, requested: str = "auto", cpuinfo: str | None = None) -> str:
    """The text tower's precision: as asked; on auto fp16 on CUDA, and on CPU bf16 wherever the
    CPU computes in bf16 natively (AMX or AVX-512 bf16), fp32 otherwise."""
    if requested not in ("auto", "int8"):  # int8 is for images; texts as on auto
        return choose_precision(device, requested, cpuinfo)
    if device == "cuda":
        return "fp16"
    return "bf16" if BF16_TEXT_CPU_FLAGS & cpu_flags(cpuinfo) else "fp32"
