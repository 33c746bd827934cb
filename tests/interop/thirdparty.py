"""Finding the third-party clients the interop suite drives, exactly as their authors ship them.

On CI (``CI=true``) a missing client is a failure, never a skip: a silently skipped
interop suite would hide a broken install.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RTCLIENT_SUBDIR = Path("thirdparty") / "aoai-rtclient-python"
NODE_DIR = Path(__file__).resolve().parent / "node"


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """Skip locally, fail on CI."""
    if on_ci():
        pytest.fail(f"{what} (CI must have it: see scripts/test.sh)", pytrace=False)
    pytest.skip(what)


def _shared_candidates() -> list[Path]:
    """``shared/`` sits beside the repository (CI: beside the clone). A git worktree's
    repository is the main checkout, whose sibling it is then."""
    found = [REPO.parent / "shared"]
    try:
        common = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        found.append(Path(common).parent.parent / "shared")
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def rtclient_dir() -> Path | None:
    for shared in _shared_candidates():
        path = shared / RTCLIENT_SUBDIR
        if (path / "rtclient" / "__init__.py").is_file():
            return path
    return None


def _version_of(pyproject: Path) -> str:
    for line in pyproject.read_text().splitlines():
        if line.strip().startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    raise ValueError(f"no version in {pyproject}")


_metadata_dir: str | None = None


def import_rtclient():
    """``import rtclient`` from the read-only source folder (it is not on PyPI).

    rtclient builds its User-Agent from its installed distribution's metadata, which a
    folder on ``sys.path`` lacks; a ``rtclient-<version>.dist-info`` (what an install
    would write) in a temporary directory provides it, without touching the folder."""
    global _metadata_dir
    source = rtclient_dir()
    if source is None:
        missing(f"rtclient is not at ../shared/{RTCLIENT_SUBDIR} beside the repository")
    try:
        import aiohttp  # noqa: F401  (rtclient's own dependency: the test extra installs it)
    except ImportError:
        missing("aiohttp (rtclient's dependency) is not installed: pip install -e '.[test]'")
    if _metadata_dir is None:
        version = _version_of(source / "pyproject.toml")
        _metadata_dir = tempfile.mkdtemp(prefix="rtclient-metadata-")
        info = Path(_metadata_dir) / f"rtclient-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: rtclient\nVersion: {version}\n"
        )
        sys.path.insert(0, _metadata_dir)
    if str(source) not in sys.path:
        sys.path.insert(0, str(source))
    import rtclient

    return rtclient


def node_ready() -> Path:
    """The Node driver directory, with ``npm ci`` done (scripts/test.sh does it)."""
    import shutil

    if shutil.which("node") is None:
        missing("node is not installed (scripts/test.sh installs Debian's nodejs)")
    if not (NODE_DIR / "node_modules" / "rt-client" / "package.json").is_file():
        missing(f"npm rt-client is not installed: run 'npm ci' in {NODE_DIR}")
    return NODE_DIR
