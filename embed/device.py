"""Device, engine and numeric precision, chosen per machine.

On the CPU, PIXSEEK_PRECISION=auto starts in fp32 and moves to a faster precision only when the
precision check (embed/agreement.py) finds it agrees with fp32 on the library's photos:
int8 everywhere (VNNI makes it 2.6x fp32 in ONNX Runtime here), bf16 where the CPU has AMX tiles
(measured with ViT-B-32, batch 64, 2 cores: 147 img/s bf16 against 29 fp32 with AMX; one with
AVX-512 bf16 but no AMX embeds 14.5 img/s in bf16 against 25.8 in fp32; with torch 2.14.1 it
embeds 30-36 img/s in bf16, still behind ONNX Runtime int8's 37-40 there, and torch's threads
would compete with the decode threads the image tower's ONNX Runtime session leaves room for,
so it is no candidate for images there).
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


# Integer dot products of unsigned by signed bytes without saturation: with one of these, int8
# weights (u8 x s8) are the fast path; without (AVX2, AVX-512 before VNNI) the instruction that
# multiplies u8 by s8 saturates its 16-bit sums and an image tower loses accuracy (cosine to
# fp32 0.993 where 0.9998 is expected), so weights are quantized to u8 instead (u8 x u8).
VNNI_CPU_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


def cpu_has_vnni(cpuinfo: str | None = None) -> bool:
    """Whether the CPU multiplies u8 by s8 bytes without saturating (VNNI or AMX int8)."""
    return bool(VNNI_CPU_FLAGS & cpu_flags(cpuinfo))


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
    """The precision to start in: as asked; on auto fp16 on CUDA and fp32 on the CPU (the
    precision check may then move to a candidate_precisions one)."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    if requested == "int8" and device != "cpu":
        raise ValueError("precision int8 runs on the CPU only; use fp16 or bf16 on CUDA")
    if requested != "auto":
        return requested
    return "fp16" if device == "cuda" else "fp32"


def candidate_precisions(
    device: str, requested: str, tower: str, cpuinfo: str | None = None
) -> list[str]:
    """The precisions the check tries against fp32 for a tower (none unless auto on a CPU):
    int8, and bf16 where the CPU computes it natively (AMX for images; AMX or AVX-512 bf16 for
    short texts, which are bound by reading the weights, not by arithmetic)."""
    if requested != "auto" or device != "cpu":
        return []
    native = BF16_CPU_FLAGS if tower == "image" else BF16_TEXT_CPU_FLAGS
    return ["int8", "bf16"] if native & cpu_flags(cpuinfo) else ["int8"]


def choose_engine(device: str, requested: str = "auto") -> str:
    """onnxruntime on the CPU (where it is installed and its export checks out, else the
    Embedder falls back to torch); torch on CUDA."""
    from embed.runtime import ENGINES

    if requested not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {requested!r}")
    if requested == "onnxruntime" and device != "cpu":
        raise ValueError("engine onnxruntime runs on the CPU only here; use torch on CUDA")
    if requested == "auto":
        return "onnxruntime" if device == "cpu" else "torch"
    return requested


def choose_text_precision(device: str, requested: str = "auto", cpuinfo: str | None = None) -> str:
    """The text tower's precision to start in: as asked (int8 is for images: texts run in
    fp32 then); on auto fp16 on CUDA, fp32 on the CPU."""
    if requested == "int8":
        return "fp32"
    return choose_precision(device, requested, cpuinfo)
