"""bench.core.atomic leaves the umask alone at import and honours the current one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.core.atomic import current_umask, write_text_atomic

ROOT = Path(__file__).resolve().parents[1]


def test_import_does_not_touch_umask():
    """Importing the module makes no umask system call (traced by wrapping os.umask)."""
    code = ("import os\ncalls = []\nreal = os.umask\n"
            "os.umask = lambda m: (calls.append(m), real(m))[1]\n"
            "import bench.core.atomic\nprint(len(calls))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_written_files_follow_the_current_umask(tmp_path):
    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        write_text_atomic(tmp_path / "a.txt", "x")
        assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
    assert current_umask() == old
