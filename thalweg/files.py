"""Safe file writing and the thalweg file container (layer 0).

Two rules hold for every file thalweg writes:

* **Atomic.** Bytes go to a temporary file in the destination folder, are flushed to
  disk, and the temporary file is renamed over the destination. A crash or Ctrl-C at any
  moment leaves either the old file or the new one, never half of one.
* **No code in model files.** Arrays are stored with safetensors (raw little-endian
  numbers behind a JSON header); configuration is JSON in the header's metadata.
  Reading one parses numbers and JSON and nothing else: no pickle, no imports, no eval.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from thalweg.errors import FileFormatError

FORMAT_NAME = "thalweg"
FORMAT_VERSION = 1
_METADATA_KEY = "thalweg"


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file next to ``path``; on success rename it to ``path``.

    On any exception the temporary file is removed and ``path`` is untouched.

    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with atomic_write(target, "w") as f:
    ...     _ = f.write("done")
    >>> open(target).read()
    'done'
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    # mkstemp makes the file private (0600); give it the permissions a plain open() would
    # (or those of the file it replaces), so reports and models can be shared.
    os.chmod(temporary, _permissions_for(path))
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _permissions_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_container(path, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """Write arrays (safetensors) plus JSON ``metadata`` to ``path``, atomically."""
    from safetensors.numpy import save

    header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **metadata}
    payload = save(
        {name: np.ascontiguousarray(a) for name, a in arrays.items()},
        metadata={_METADATA_KEY: json.dumps(header)},
    )
    with atomic_write(path, "wb") as handle:
        handle.write(payload)


def read_container(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`write_container`: ``(arrays, metadata)``.

    Anything else (a pickle, a CSV, garbage, a truncated file) raises
    :class:`~thalweg.errors.FileFormatError` naming the file; nothing in it is executed.
    """
    from safetensors.numpy import load

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file; check the path")
    data = path.read_bytes()
    not_ours = f"{path} is not a thalweg file (expected a .thalweg model saved by thalweg)"
    if len(data) < 8:
        raise FileFormatError(f"{not_ours}: it is only {len(data)} bytes long")
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > len(data) - 8:
        raise FileFormatError(f"{not_ours}: its header is cut off or corrupt")
    try:
        header = json.loads(data[8 : 8 + header_size])
        metadata = json.loads(header["__metadata__"][_METADATA_KEY])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise FileFormatError(f"{not_ours}: it has no thalweg header") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise FileFormatError(f"{not_ours}: its header is not a thalweg header")
    if metadata.get("format_version", 0) > FORMAT_VERSION:
        raise FileFormatError(
            f"{path} was written by a newer thalweg (format {metadata['format_version']}); "
            "upgrade thalweg to read it"
        )
    try:
        arrays = load(data)
    except Exception as error:  # safetensors raises its own error type for corrupt data
        raise FileFormatError(f"{path}: the weights are corrupt or truncated ({error})") from None
    return arrays, metadata
