"""Reading files of run folders without trusting the file system: only regular files
inside the folder given, each under a size cap, and never through a symbolic link.

A reader must survive whatever a shared or downloaded ``runs/`` folder holds: a FIFO named
``metrics.json`` (an ordinary open would block for ever), a link to ``/dev/zero`` (a read
would run out of memory), a link out of the folder. :func:`read_capped` opens without
following a final link and without blocking, checks on the open file that it is a regular
file no larger than its cap, and reads at most that much. :func:`find_done` walks a runs
folder without following links and names every linked folder or marker it passes, so a
symlinked run folder is reported instead of skipped without a word.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

#: Size caps in bytes: a record and a config are a few kB; predictions of the largest test
#: set (KADID-10k's 10,125 images, or pairs) stay under 2 MB.
CAPS = {"metrics.json": 4 << 20, "config.json": 4 << 20, "predictions.csv": 64 << 20}
DEFAULT_CAP = 4 << 20
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class UnsafeFile(OSError):
    """A run file that is not read: a link, not a regular file, or over its cap. ``str()``
    says which, in words fit for a one-line notice."""


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def read_capped(path: Path | str, cap: int | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most ``cap`` (default: its name's entry in
    :data:`CAPS`); UnsafeFile when it is a symbolic link, not a regular file (FIFO, device,
    folder) or larger than the cap; FileNotFoundError when it does not exist."""
    path = Path(path)
    cap = CAPS.get(path.name, DEFAULT_CAP) if cap is None else cap
    try:
        fd = os.open(path, _FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if path.is_symlink():
            raise UnsafeFile(f"{path.name} is a symbolic link; only regular files inside the "
                             "runs folder are read") from None
        raise UnsafeFile(f"{path.name} cannot be opened ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(f"{path.name} is not a regular file; only regular files are read")
        if st.st_size > cap:
            raise UnsafeFile(f"{path.name} is {_mib(st.st_size)}, over the {_mib(cap)} a run "
                             "file may have")
        chunks, left = [], cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > cap:
            raise UnsafeFile(f"{path.name} grew past the {_mib(cap)} a run file may have")
        return data
    finally:
        os.close(fd)


def is_regular(path: Path | str) -> bool:
    """Whether ``path`` itself (not a link's target) is a regular file."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def find_done(root: Path | str, marker: str = "done") -> tuple[list[Path], list[tuple[Path, str]]]:
    """(folders holding a regular ``marker`` file under ``root``, at any depth, sorted;
    (path, why) of each symbolic link to a folder and each ``marker`` that is not a regular
    file, none of which is followed or read). ``root`` itself may be a link."""
    found, refused = [], []
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            refused.append((folder, f"cannot be listed ({exc.strerror or exc})"))
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    if entry.name == marker:
                        refused.append((folder, f"its {marker} marker is a symbolic link, not "
                                                "followed"))
                    elif entry.is_dir(follow_symlinks=True):
                        where = os.readlink(entry.path)
                        refused.append((path, f"is a symbolic link (to {where}), not followed: "
                                              "readers read only what lies inside the runs "
                                              "folder; copy the run folder in instead"))
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                elif entry.name == marker:
                    if entry.is_file(follow_symlinks=False):
                        found.append(folder)
                    else:
                        refused.append((folder, f"its {marker} marker is not a regular file"))
            except OSError as exc:
                refused.append((path, f"cannot be read ({exc.strerror or exc})"))
    return sorted(found), sorted(refused)
