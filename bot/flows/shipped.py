"""Where the shipped flows and content are: inside a wheel as `bot/_shipped/` (see
pyproject.toml), in a checkout or an editable install at the top of the repository."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def _root() -> Path:
    packaged = _PACKAGE / "_shipped"
    return packaged if (packaged / "flows").is_dir() else _PACKAGE.parent


def shipped_flows() -> Path:
    return _root() / "flows"


def shipped_content() -> Path:
    return _root() / "content"
