"""Paths inside a storage connection: cleaning, the base-folder fence and glob patterns.

Every storage type uses the same rules, so a pattern means the same on a folder, an SFTP
server and a bucket: paths are relative to the connection's base and use ``/``; ``*`` and ``?``
match within one folder, ``**`` matches any number of folders, ``[abc]`` a character class.
"""

from __future__ import annotations

import posixpath
import re

from interlace.errors import InterlaceError

_MAGIC = re.compile(r"[*?\[]")


class StorageError(InterlaceError):
    """A file operation on a storage connection failed (not found, outside the base, ...)."""


class StoragePathError(StorageError):
    """A path that is not inside the connection's base folder."""


def clean(path: str, connection: str) -> str:
    """``path`` normalised and relative to the base (``''`` is the base itself).

    Raises :class:`StoragePathError` for absolute paths, URLs and paths that leave the base.
    """
    text = path.replace("\\", "/")
    if "://" in text or text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise StoragePathError(
            f"connection '{connection}': path {path!r} is not relative to the connection's base",
            hint="give a path relative to the connection's base folder, e.g. 'orders/2024.csv'",
        )
    normal = posixpath.normpath(text) if text else "."
    if normal == ".." or normal.startswith("../"):
        raise StoragePathError(
            f"connection '{connection}': path {path!r} is outside the connection's base folder",
            hint="paths may not climb out of the base folder with '..'",
        )
    if normal == ".":
        return ""
    return normal + "/" if text.endswith("/") and not normal.endswith("/") else normal


def folder_of(prefix: str) -> str:
    """The folder part of a listing prefix: ``'a/b/c'`` -> ``'a/b'``, ``'a/b/'`` -> ``'a/b'``."""
    return prefix.rsplit("/", 1)[0] if "/" in prefix else ""


def has_magic(pattern: str) -> bool:
    """True when ``pattern`` has a wildcard (``*``, ``?`` or ``[``)."""
    return _MAGIC.search(pattern) is not None


def literal_prefix(pattern: str) -> str:
    """The folders of ``pattern`` before its first wildcard, to list no more than needed."""
    match = _MAGIC.search(pattern)
    head = pattern if match is None else pattern[: match.start()]
    return head.rsplit("/", 1)[0] + "/" if "/" in head else ""


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regular expression that matches exactly the paths ``pattern`` selects."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(char))
                i += 1
                continue
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out))


def join(base: str, path: str) -> str:
    """``base/path`` with ``/`` (either may be empty)."""
    if not base:
        return path
    if not path:
        return base
    return base.rstrip("/") + "/" + path
