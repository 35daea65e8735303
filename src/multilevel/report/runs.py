"""Run folders: written completely or not at all, and only where they are ours.

Ownership rule. Every run folder holds a marker file, ``.multilevel-run`` (a small
JSON record). The writer creates a new folder, or replaces a folder that carries the
marker; it refuses everything else with :class:`~multilevel.errors.RunFolderError`
naming the path and what to do: a directory without the marker (even an empty one),
a file, a symbolic link, ``.`` and ``..``, the current directory, the home directory,
``/``, and any folder that holds the paths given as ``protect`` (the CLI passes the
spec file and its data file, so neither they nor their folders can be replaced).
:func:`check_target` applies the rule, and checks that the folder can be created,
before any work is done; :func:`atomic_folder` applies it again when publishing.

Atomicity. The files are written into a hidden temporary folder beside the target
(``.NAME.tmp-*``); only when all of them are there is the target swapped in by
renames (atomic within one file system), with interrupts held off and under an
exclusive lock (``fcntl.flock`` on the parent folder). Concurrent writers to one
target therefore publish one after the other, each a complete run, as if they had
run in turn. A failure or an interrupt before publishing removes the temporary
folder and keeps the previous run; temporary folders left by a killed process
(``kill -9``) are removed by the next writer to that target.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
from pathlib import Path

from multilevel.errors import RunFolderError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, publishing still atomic
    fcntl = None

MARKER = ".multilevel-run"
_MARKER_MAX_BYTES = 4096
_PUBLISHING = {"started": 0}   # read by the CLI's signal handler (see publish_count)


def publish_count() -> int:
    """How many run folders this process has begun to publish (the point of no return).

    The CLI's interrupt handler lets a run that is already being published finish
    instead of claiming that nothing was written.
    """
    return _PUBLISHING["started"]


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a real directory holding a run-folder marker written by this package.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> is_run_folder(tempfile.mkdtemp())
    False
    """
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return False
    marker = path / MARKER
    try:
        info = marker.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MARKER_MAX_BYTES:
            return False
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("writer") == "multilevel"


def check_target(target: str | Path, protect=()) -> Path:
    """Apply the ownership rule to ``target`` and check that it can be written; no side effects.

    Parameters
    ----------
    target : str or Path
        The run folder to write (it may exist only as a run folder of this package).
    protect : iterable of paths
        Files or folders that must survive: the target may be neither one of them nor
        a folder that holds one.

    Returns
    -------
    Path
        The absolute target path.

    Raises
    ------
    RunFolderError
        Naming the path, why it is refused, and what to do.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> check_target(root / "runs" / "model") == root / "runs" / "model"
    True
    """
    # Under the folder's publish lock: another writer swaps the old run out and the
    # new one in under it, and between the two renames the target is briefly absent.
    try:
        parent = Path(os.path.abspath(os.fspath(target))).parent
    except (OSError, ValueError, TypeError):
        parent = None
    with _locked(parent, required=False):
        return _check_unlocked(target, protect)


def _check_unlocked(target, protect) -> Path:
    try:
        return _check_target(target, protect)
    except (OSError, ValueError) as exc:
        if isinstance(exc, RunFolderError):
            raise
        raise RunFolderError(f"Run folder {str(target)!r} cannot be used: {exc}. Give a short "
                             "folder name of letters, digits, '.', '_' and '-'.") from None


def _check_target(target, protect) -> Path:
    raw = os.fspath(target)
    if "\x00" in raw:
        raise RunFolderError(f"Run folder {raw!r} contains a NUL character; give a folder name.")
    last = raw.rstrip("/" + os.sep).replace(os.sep, "/").split("/")[-1] if raw.strip() else ""
    if last in ("", ".", ".."):
        raise RunFolderError(
            f"Run folder {raw!r} is not a folder name: a run is written into a folder of its own. "
            "Give a new folder, e.g. --out runs/my-model."
        )
    if raw.startswith("~"):   # Python never expands ~: it would make a folder named "~" here
        raise RunFolderError(
            f"Run folder {raw!r} starts with '~', which was not expanded to the home directory "
            "(quoted, or given from Python); it would create a folder named '~'. Give the path "
            "itself, e.g. --out runs/my-model or an unquoted ~/runs/my-model."
        )
    path = Path(os.path.abspath(raw))
    if any(len(os.fsencode(part)) > 255 for part in path.parts):
        raise RunFolderError(f"Run folder {raw!r} has a path component longer than 255 bytes; "
                             "give a shorter folder name.")
    if path.is_symlink():
        raise RunFolderError(
            f"Run folder {raw!r} is a symbolic link (to {os.readlink(path)!r}); it is not replaced. "
            "Give a new folder, or remove the link yourself."
        )
    if path.exists() and not path.is_dir():
        raise RunFolderError(
            f"Run folder {raw!r} is an existing file; it is not replaced. Give a new folder, "
            "or move the file away yourself."
        )
    resolved = path.resolve()
    for keep, what in _protected(protect):
        if resolved == keep or resolved in keep.parents:
            holds = "is" if resolved == keep else "holds"
            raise RunFolderError(
                f"Run folder {raw!r} {holds} {what} ({keep}); a run folder replaces its target, "
                f"so it is refused. Give a new folder, e.g. --out runs/my-model."
            )
    if path.is_dir() and not is_run_folder(path):
        raise RunFolderError(
            f"{raw!r} is a directory that multilevel did not write (no {MARKER} inside); it is "
            "never replaced. Give a new folder, or move that directory away yourself."
        )
    _check_creatable(path, raw)
    return path


def _protected(protect):
    out = []
    for call, what in ((Path.cwd, "the current directory"), (Path.home, "the home directory")):
        with contextlib.suppress(OSError, RuntimeError, KeyError):
            out.append((call().resolve(), what))
    out.append((Path(os.path.abspath(os.sep)), "the file system root"))
    for item in protect:
        if item is not None:
            out.append((Path(os.path.abspath(os.fspath(item))).resolve(), "a file this run reads"))
    return out


def _check_creatable(path: Path, raw: str) -> None:
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():  # a dangling link on the way
            raise RunFolderError(f"Cannot create run folder {raw!r}: {parent} is a broken link.")
        parent = parent.parent
    if not parent.is_dir():
        raise RunFolderError(f"Cannot create run folder {raw!r}: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunFolderError(
            f"Cannot write run folder {raw!r}: no write permission in {parent}. "
            "Give a folder you can write (--out DIR) or change the permissions."
        )


@contextlib.contextmanager
def atomic_folder(target: str | Path, protect=()):
    """Yield a temporary folder that becomes ``target`` when the block succeeds.

    ``target`` must be new or a run folder written by this package
    (:func:`check_target`, with ``protect``); it is replaced only when every file is
    written. On an exception or an interrupt in the block nothing is published and the
    previous run is kept.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_folder(root / "run") as tmp:
    ...     _ = (tmp / "a.txt").write_text("done")
    >>> (root / "run" / "a.txt").read_text()
    'done'
    >>> sorted(p.name for p in (root / "run").iterdir())
    ['.multilevel-run', 'a.txt']
    """
    path = check_target(target, protect)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    except OSError as exc:
        raise RunFolderError(f"Cannot create run folder {str(target)!r}: {exc.strerror or exc}.") from None
    try:
        # mkdtemp makes the folder private (0700); a run folder gets what mkdir would give it
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        _write_marker(tmp)
        yield tmp
        with _locked(path.parent):
            _sweep(path)
            _check_unlocked(path, protect)   # still new, or still ours (lock already held)
            _publish(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _write_marker(folder: Path) -> None:
    # the package's own version string: importlib.metadata.version lists every folder on
    # sys.path to find it (20-25 ms, the last step of every run folder written)
    from multilevel.version import __version__

    record = {"writer": "multilevel", "version": __version__, "pid": os.getpid(),
              "host": socket.gethostname(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (folder / MARKER).write_text(json.dumps(record) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _locked(folder: Path | None, required: bool = True):
    """An exclusive lock on ``folder`` shared by every writer of run folders in it.

    With ``required=False`` a folder that is absent or cannot be opened is not locked
    (the checks that follow report what is wrong with it).
    """
    if fcntl is None or (not required and folder is None):  # pragma: no cover
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (OSError, ValueError) as exc:
        if not required:
            yield
            return
        raise RunFolderError(f"Cannot lock {folder} to publish a run: {exc.strerror or exc}.") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)   # waits while another writer publishes
        yield
    finally:
        os.close(fd)   # releases the lock


def _publish(tmp: Path, path: Path) -> None:
    """Swap ``tmp`` in as ``path`` with SIGINT/SIGTERM held until both renames are done."""
    blocked = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask")
    signals = {signal.SIGINT, signal.SIGTERM}
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    _PUBLISHING["started"] += 1
    try:
        old = None
        if os.path.lexists(path):
            old = path.parent / f".{path.name}.old-{os.getpid()}-{os.urandom(4).hex()}"
            os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            if old is not None:
                os.rename(old, path)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)


def _sweep(path: Path) -> None:
    """Remove what a killed writer left beside ``path`` (called under the lock).

    Only folders that carry our marker are touched: ``.NAME.old-*`` (a previous run
    being replaced; no other publish is under way while the lock is held) and
    ``.NAME.tmp-*`` of a writer process that no longer exists on this host.
    """
    host = socket.gethostname()
    tmp, old = f".{path.name}.tmp-", f".{path.name}.old-"
    # names first: a parent such as /tmp can hold tens of thousands of entries, and a
    # Path object for each took 0.5 s there
    for name in [n for n in os.listdir(path.parent) if n.startswith((tmp, old))]:
        entry = path.parent / name
        if not is_run_folder(entry):
            continue
        if entry.name.startswith(tmp):
            try:
                record = json.loads((entry / MARKER).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if record.get("host") != host or _alive(record.get("pid")):
                continue
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True   # exists, owned by someone else
    return True
