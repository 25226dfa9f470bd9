"""Concurrent text embeddings share calls; recent texts come from a cache."""

from __future__ import annotations

import threading
import time
import uuid

import numpy as np
import pytest

from embed import Embedder
from embed.batching import Coalescer, VectorCache


def as_vectors(items: list[str]) -> np.ndarray:
    return np.array([[float(len(item)), float(item.count("x"))] for item in items])


class GatedFn:
    """as_vectors, holding its first call until released, and recording every batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, items: list[str]) -> np.ndarray:
        self.batches.append(list(items))
        self.entered.set()
        self.release.wait(10)
        return as_vectors(items)


def test_calls_arriving_during_a_run_share_the_next_one() -> None:
    fn = GatedFn()
    coalescer = Coalescer(fn)
    texts = ["a", "xx", "yyy", "xxxx", "z" * 5, "x" * 6]
    answers: dict[str, np.ndarray] = {}

    def ask(text: str) -> None:
        answers[text] = coalescer([text])

    first = threading.Thread(target=ask, args=(texts[0],))
    first.start()
    assert fn.entered.wait(10)
    others = [threading.Thread(target=ask, args=(t,)) for t in texts[1:]]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 10
    while len(coalescer._queue) < len(others) and time.monotonic() < deadline:
        time.sleep(0.001)
    fn.release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert [len(b) for b in fn.batches] == [1, len(others)]
    assert sorted(fn.batches[1]) == sorted(texts[1:])
    for text in texts:
        np.testing.assert_array_equal(answers[text], as_vectors([text]))


def test_a_batch_holds_at_most_max_items_and_everyone_is_answered() -> None:
    sizes: list[int] = []

    def fn(items: list[str]) -> np.ndarray:
        sizes.append(len(items))
        time.sleep(0.002)
        return as_vectors(items)

    coalescer = Coalescer(fn, max_items=3)
    answers: list[tuple[list[str], np.ndarray]] = []
    lock = threading.Lock()

    def ask(number: int) -> None:
        items = [f"{number}-{'x' * i}" for i in range(number % 3 + 1)]
        answer = coalescer(items)
        with lock:
            answers.append((items, answer))

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(answers) == 40 and max(sizes) <= 3
    for items, answer in answers:
        np.testing.assert_array_equal(answer, as_vectors(items))


def test_an_error_reaches_every_caller_of_the_batch_and_the_next_call_runs() -> None:
    def fn(items: list[str]) -> np.ndarray:
        if "bad" in items:
            raise ValueError("cannot embed")
        return as_vectors(items)

    coalescer = Coalescer(fn)
    with pytest.raises(ValueError, match="cannot embed"):
        coalescer(["fine", "bad"])
    np.testing.assert_array_equal(coalescer(["fine"]), as_vectors(["fine"]))


def test_the_cache_keeps_the_latest_texts() -> None:
    cache = VectorCache(size=2)
    for text in ("a", "b"):
        cache.put(text, as_vectors([text])[0])
    assert cache.get("a") is not None  # a is now the latest
    cache.put("c", as_vectors(["c"])[0])
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None


def test_a_repeated_text_skips_the_model(tiny_embedder: Embedder) -> None:
    calls: list[list[str]] = []
    run = tiny_embedder._text_batches.fn
    tiny_embedder._text_batches.fn = lambda items: calls.append(items) or run(items)
    one, two, three = (f"{word} {uuid.uuid4().hex}" for word in ("one", "two", "three"))
    try:
        first = tiny_embedder.embed_texts([one, two])
        again = tiny_embedder.embed_texts([two, one, three, three])
    finally:
        tiny_embedder._text_batches.fn = run
    assert calls == [sorted([one, two]), [three]]
    np.testing.assert_array_equal(again[:2], first[::-1])
    np.testing.assert_array_equal(again[2], again[3])
