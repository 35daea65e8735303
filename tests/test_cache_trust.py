"""The compile cache trusts an entry only when it is this model's, intact and the user's own.

Measured on main before: another model's entry placed under a model's key loaded as a
hit and gave that model's posterior (intercept off by 100); damaged machine code in an
intact pickle crashed every later run; entries were unpickled unchecked.
"""

from __future__ import annotations

import logging
import os
import pickle
import stat

import pytest

import multilevel as ml
from multilevel.bayes import cache

# the per-structure compilation (models outside multilevel.bayes.generic's class)
pytestmark = pytest.mark.usefixtures("per_structure_route")

FORMULA = "Reaction ~ 1 + (1 | Subject)"
OTHER = "Reaction ~ Days + (1 | Subject)"
TINY = dict(draws=200, tune=200, chains=1, seed=3, sampler="nutpie", progress=False, check=False)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTILEVEL_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("MULTILEVEL_CACHE", raising=False)
    cache._logged.clear()
    cache._MEMORY.clear()
    yield tmp_path / "nutpie"
    cache._MEMORY.clear()


def _fresh_fit(formula, data):
    """A fit as a new process makes it: nothing compiled in memory, the folder as it is."""
    cache._MEMORY.clear()
    return ml.fit(formula, data, **TINY)


def _entry(folder, key="k" * 64, **payload):
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{key}.pkl"
    cache._write_atomic(path, {"key": key, "format": cache.CACHE_FORMAT, **payload})
    return path, key


def _intercept(fit) -> float:
    return float(fit.posterior["Intercept"].mean())


# ------------------------------------------------------------ the trust rule itself
def test_an_intact_entry_of_this_key_is_read(cache_dir):
    path, key = _entry(cache_dir, value=1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pickle.loads(cache._read_entry(path, key))["value"] == 1


def test_another_keys_entry_is_deleted_and_logged_once(cache_dir, caplog):
    path, _ = _entry(cache_dir, key="a" * 64)
    planted = cache_dir / f"{'b' * 64}.pkl"
    path.rename(planted)
    with caplog.at_level(logging.WARNING, logger="multilevel.cache"):
        assert cache._read_entry(planted, "b" * 64) is None
    assert not planted.exists()
    assert [r.getMessage() for r in caplog.records if "another model" in r.getMessage()] != []


@pytest.mark.parametrize("damage", ["flip", "truncate", "header", "zeros"])
def test_a_damaged_entry_is_deleted_before_anything_is_unpickled(cache_dir, damage, tmp_path):
    path, key = _entry(cache_dir, value=list(range(1000)))
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) - 10]
    elif damage == "header":
        data[:5] = b"XXXXX"
    else:   # zeroed code in an otherwise intact pickle
        data[-200:-100] = bytes(100)
    path.write_bytes(bytes(data))
    assert cache._read_entry(path, key) is None
    assert not path.exists()


def test_a_pickle_without_our_header_is_never_unpickled(cache_dir, tmp_path):
    witness = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {witness}",))

    cache_dir.mkdir(mode=0o700, parents=True)
    key = "c" * 64
    path = cache_dir / f"{key}.pkl"
    path.write_bytes(pickle.dumps({"format": cache.CACHE_FORMAT, "x": Exploit()}))
    path.chmod(0o600)
    assert cache._read_entry(path, key) is None
    assert not witness.exists()


def test_entries_writable_by_others_or_owned_by_others_are_ignored(cache_dir):
    path, key = _entry(cache_dir, value=2)
    path.chmod(0o664)   # group-writable: someone else could have written it
    assert cache._read_entry(path, key) is None
    assert path.exists()   # ignored, not ours to judge
    path.chmod(0o600)
    link = cache_dir / f"{'d' * 64}.pkl"
    link.symlink_to(path)
    assert cache._read_entry(link, "d" * 64) is None
    if os.geteuid() == 0:   # root can hand the file to another user
        os.chown(path, 65534, 65534)
        assert cache._read_entry(path, key) is None


def test_the_cache_folder_is_private_and_a_shared_one_is_not_used(cache_dir):
    assert cache.private_folder(cache_dir)
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    cache_dir.chmod(0o755)   # an earlier version's folder: made private
    assert cache.private_folder(cache_dir)
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    cache_dir.chmod(0o770)
    assert not cache.private_folder(cache_dir)
    cache_dir.chmod(0o700)
    if os.geteuid() == 0:
        os.chown(cache_dir, 65534, 65534)
        assert not cache.private_folder(cache_dir)


# ------------------------------------------------------------------- real posteriors
@pytest.mark.slow
def test_planted_and_damaged_entries_give_the_right_posterior(cache_dir, sleepstudy, caplog):
    # the key is the structure (data are inputs): the same formula on shifted data shares
    # the entry and gets its own posterior; another structure has an entry of its own
    shifted = sleepstudy.assign(Reaction=sleepstudy["Reaction"] + 100.0)
    first = _fresh_fit(FORMULA, sleepstudy)
    (entry_b,) = cache_dir.glob("*.pkl")
    second = _fresh_fit(FORMULA, shifted)
    assert second.timings["compile_cache"] == "hit" and len(list(cache_dir.glob("*.pkl"))) == 1
    truth = _intercept(second)
    assert abs(truth - _intercept(first) - 100) < 10
    _fresh_fit(OTHER, shifted)
    (entry_a,) = set(cache_dir.glob("*.pkl")) - {entry_b}

    # the other model's valid entry under this model's key: deleted, compiled again
    entry_b.write_bytes(entry_a.read_bytes())
    with caplog.at_level(logging.WARNING, logger="multilevel.cache"):
        planted = _fresh_fit(FORMULA, shifted)
    assert planted.timings["compile_cache"] == "miss"
    assert abs(_intercept(planted) - truth) < 1e-9   # the same draws as the honest fit
    assert any("another model" in r.getMessage() for r in caplog.records)

    # flipped bytes in the machine code: deleted, compiled again, no crash
    data = bytearray(entry_b.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0xFF
    entry_b.write_bytes(bytes(data))
    damaged = _fresh_fit(FORMULA, shifted)
    assert damaged.timings["compile_cache"] == "miss"
    assert abs(_intercept(damaged) - truth) < 1e-9
    assert _fresh_fit(FORMULA, shifted).timings["compile_cache"] == "hit"

    # group-writable: ignored and replaced by a fresh private entry
    entry_b.chmod(0o666)
    ignored = _fresh_fit(FORMULA, shifted)
    assert ignored.timings["compile_cache"] == "miss"
    assert stat.S_IMODE(entry_b.stat().st_mode) == 0o600
