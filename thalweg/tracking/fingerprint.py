"""Fingerprints of data and files: which bytes a run read and wrote.

A fingerprint says enough to tell, months later, whether two runs saw the same data:
the path, the size, a SHA-256 of the content, and the column schema (names, and types
where the format stores them). A folder (images, a Parquet data set) is hashed file by
file in a fixed order, so the same files give the same hash wherever they are.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
# The schema lists at most this many columns (a 10,000-column file stays a small record).
MAX_COLUMNS = 500
# Hashes already computed in this process, by (path, inode, size, mtime, ctime): a file
# read twice (training hashes its data to name checkpoints, the run store hashes it
# again) is hashed once. The inode and ctime make a file replaced in place (an atomic
# rename, a rewrite within the clock's resolution) a new key.
_HASHES: dict[tuple, str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as handle:
    ...     _ = handle.write(b"abc")
    >>> file_sha256(handle.name)[:16]
    'ba7816bf8f01cfea'
    """
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def folder_sha256(path: str | os.PathLike) -> tuple[str, int, int]:
    """``(sha256, total bytes, file count)`` of every file under a folder.

    Files are taken in sorted relative-path order, and each contributes its relative
    path and its own SHA-256, so renaming, adding or changing any file changes the hash.
    Hidden files (``.name``) are skipped.
    """
    root = Path(path)
    digest = hashlib.sha256()
    total = count = 0
    for file in sorted(_files_under(root)):
        relative = file.relative_to(root).as_posix()
        digest.update(relative.encode() + b"\0" + file_sha256(file).encode() + b"\n")
        total += file.stat().st_size
        count += 1
    return digest.hexdigest(), total, count


def _files_under(root: Path):
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in files:
            path = Path(folder) / name
            if not name.startswith(".") and path.is_file():  # no FIFO or device: never read
                yield path


def fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """What a run read: path, kind, size, SHA-256 and column schema of a file or folder.

    The schema comes from the file's own header: a CSV's first line, a Parquet file's
    schema (names and types), an NPZ file's arrays (names, shapes, dtypes); for a folder,
    its sub-folders (the classes of an image folder) and file count.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "t.csv"), "w") as handle:
    ...     _ = handle.write("x,y\\n1,2\\n")
    >>> info = fingerprint(os.path.join(folder, "t.csv"))
    >>> info["format"], info["columns"], info["size"]
    ('csv', [{'name': 'x'}, {'name': 'y'}], 8)
    """
    path = Path(path)
    if path.is_dir():
        sha256, size, count = folder_sha256(path)
        subfolders = sorted(p.name for p in path.iterdir() if p.is_dir() and p.name[:1] != ".")
        info: dict[str, Any] = {
            "path": str(path),
            "kind": "folder",
            "size": size,
            "files": count,
            "sha256": sha256,
        }
        if subfolders:
            info["subfolders"] = subfolders[:MAX_COLUMNS]
        return info
    info = {
        "path": str(path),
        "kind": "file",
        "size": path.stat().st_size,
        "sha256": file_sha256(path),
    }
    format_, columns = _schema(path)
    if format_:
        info["format"] = format_
    if columns is not None:
        info["columns"] = columns[:MAX_COLUMNS]
        if len(columns) > MAX_COLUMNS:
            info["columns_total"] = len(columns)
    return info


def _schema(path: Path) -> tuple[str | None, list[dict] | None]:
    """The format and columns a file declares, or ``(None, None)`` if it declares none.

    Only headers are read; a file that cannot be parsed gets no schema (the fingerprint
    still has its hash), because recording a run must never fail on the data: reading
    it is the command's job, and the command reports bad data itself.
    """
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            import csv

            with open(path, newline="", encoding="utf-8-sig") as handle:
                header = next(csv.reader(handle, delimiter="\t" if suffix == ".tsv" else ","))
            return suffix[1:], [{"name": name} for name in header]
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            return "parquet", [{"name": f.name, "type": str(f.type)} for f in schema]
        if suffix == ".npz":
            return "npz", _npz_arrays(path)
        if suffix == ".thalweg":
            return "thalweg", None
        if suffix == ".json":
            with open(path, encoding="utf-8") as handle:
                json.load(handle)
            return "json", None
    except Exception:  # unreadable header: no schema (see the docstring)
        return None, None
    return None, None


def _npz_arrays(path: Path) -> list[dict]:
    """Names, dtypes and shapes of the arrays in an NPZ file, from their headers only."""
    import zipfile

    from numpy.lib import format as npy

    arrays = []
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            with archive.open(member) as handle:
                major, _ = npy.read_magic(handle)
                read = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
                shape, _, dtype = read(handle)
            name = member[:-4] if member.endswith(".npy") else member
            arrays.append({"name": name, "type": str(dtype), "shape": list(shape)})
    return arrays
