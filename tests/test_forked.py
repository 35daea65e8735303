"""map_forked: the results of a loop, exceptions propagate, inherited objects frozen in the
children and unfrozen in the parent afterwards."""

from __future__ import annotations

import gc
import os

import pytest

from multilevel import forked
from multilevel.forked import map_forked


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "serial"])
def test_results_in_order_and_gc_unfrozen_afterwards(monkeypatch, fork):
    monkeypatch.setattr(forked, "can_fork", lambda: fork)
    big = list(range(1000))   # a closure over parent memory, as the report's figures use
    runs = map_forked(lambda i: (big[i] * 2, os.getpid(), gc.get_freeze_count()), [3, 1, 4, 1, 5],
                      workers=2)
    assert [r for r, _, _ in runs] == [6, 2, 8, 2, 10]
    assert ({pid for _, pid, _ in runs} != {os.getpid()}) == fork
    # the children ran with the inherited objects frozen (out of their collections)
    assert all(frozen > 0 for _, _, frozen in runs) == fork
    assert gc.get_freeze_count() == 0


def test_exception_propagates_and_gc_is_unfrozen(monkeypatch):
    monkeypatch.setattr(forked, "can_fork", lambda: True)

    def fails(i):
        if i == 2:
            raise ValueError("item 2 is bad")
        return i

    with pytest.raises(ValueError, match="item 2 is bad"):
        map_forked(fails, [1, 2, 3], workers=2)
    assert gc.get_freeze_count() == 0
