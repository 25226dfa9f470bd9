"""embed.memory: the decode budget holds decodes back, lets an oversized one run alone, and
decodes give the memory back."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from embed import memory
from embed.memory import MIB, DecodeBudget, default_decode_budget


def run_reservations(budget: DecodeBudget, sizes: list[int]) -> int:
    """Reserve each size on its own thread at once, holding it a moment; the most ever held."""
    peak = 0
    lock = threading.Lock()

    def hold(size: int) -> None:
        nonlocal peak
        with budget.reserve(size):
            with lock:
                peak = max(peak, budget.used)
            time.sleep(0.05)

    threads = [threading.Thread(target=hold, args=(size,)) for size in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads), "a reservation never got its turn"
    return peak


def test_reservations_beyond_the_budget_wait_their_turn() -> None:
    budget = DecodeBudget(100)
    assert run_reservations(budget, [60] * 8) == 60  # never two at once
    assert run_reservations(budget, [30] * 8) == 90  # three fit
    assert budget.used == 0


def test_a_reservation_larger_than_the_budget_runs_alone() -> None:
    budget = DecodeBudget(100)
    assert run_reservations(budget, [250, 250, 10, 10]) == 250


def test_an_error_inside_gives_the_reservation_back() -> None:
    budget = DecodeBudget(100)
    with pytest.raises(RuntimeError), budget.reserve(80):
        raise RuntimeError("decode failed")
    assert budget.used == 0


def test_the_default_budget_is_sized_from_memory() -> None:
    assert 256 * MIB <= default_decode_budget() <= 1024 * MIB
    total = memory.system_memory_bytes()
    assert default_decode_budget() == min(max(total // 16, 256 * MIB), 1024 * MIB)


PEAK_SCRIPT = """
import sys
from embed.decode import decode_cost, decode_rgb, open_image

def peak_kib():
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0])

path, min_side = sys.argv[1], (int(sys.argv[2]) or None)
with open_image(path) as image:
    image.load  # the header only: nothing decoded yet
    size, mode = image.size, image.mode
    before = peak_kib()
    decode_rgb(image, min_side=min_side)
factor = max(min(size) // min_side, 1) if min_side else 1
print(peak_kib() - before, decode_cost(size, mode, factor) // 1024)
"""


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "I;16"])
@pytest.mark.parametrize("min_side", [224, 0])
def test_a_decode_holds_no_more_than_its_reserved_cost(
    tmp_path: Path, mode: str, min_side: int
) -> None:
    """The budget is only as good as decode_cost: measured in a fresh process, the peak of a
    decode stays under what it reserves."""
    path = tmp_path / f"{mode.replace(';', '')}.png"
    picture = Image.radial_gradient("L").resize((3000, 3000))
    (picture if mode in ("L", "I;16") else picture.convert(mode)).convert(mode).save(path)
    answer = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path), str(min_side)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    peak_kib, reserved_kib = map(int, answer.stdout.split())
    assert peak_kib <= reserved_kib, (peak_kib, reserved_kib)
    if min_side:  # reduced strip by strip: the stored picture is the only full-size copy
        assert reserved_kib < (3000 * 3000 * 4 * 1.2 + 16 * MIB) / 1024
