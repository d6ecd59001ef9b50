"""Safe file writing and the thalweg file container (layer 0).

Rules that hold for every file thalweg writes (see ``docs/security.md``):

* **Atomic.** Bytes go to a hidden temporary file in the destination folder
  (``.NAME.PID-RANDOM.tmp``), are flushed to disk, and the temporary file is renamed
  over the destination. A crash or Ctrl-C at any moment leaves either the old file or
  the new one, never half of one. Temporary files left by a killed run (its process is
  gone) are removed by the next run that writes into the same folder.
* **Only regular files are replaced.** A destination that is a folder, a device
  (``/dev/null``), a FIFO or a socket is refused: renaming over it would turn a device
  into a plain file. A **symbolic link is written through**: the file it points to is
  replaced (atomically, in its own folder) and the link itself is kept.
* **Outputs are never inputs.** :func:`check_outputs` compares every output with every
  input of a command by resolved path and by file identity (device and inode, so hard
  links and symlinks are caught too) before the command does any work.
* **Together or not at all.** Inside :func:`write_together`, the files written are
  kept as temporaries until the block ends and then renamed one after the other; an
  error before that leaves every destination untouched, and a failure while renaming
  names the files written and those not.
* **No code in model files.** Arrays are stored with safetensors (raw little-endian
  numbers behind a JSON header); configuration is JSON in the header's metadata.
  Reading one parses numbers and JSON and nothing else: no pickle, no imports, no eval.
  :func:`open_container` reads the header first, so a reader checks the declared
  structure against the stored tensors' shapes and sizes before loading any of them.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import stat
import struct
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thalweg.errors import FileFormatError, OutputPathError, PartialWriteError
from thalweg.schema import Integer, Record, Schema, Text

FORMAT_NAME = "thalweg"
# Version 2: ``thalweg.save`` of a dict may hold text arrays (kept in the JSON header).
# Version 3: model files may hold the estimator's optimizer (``optimizer_``), and
# checkpoints every random generator's state and the hold-out seed.
FORMAT_VERSION = 3
_METADATA_KEY = "thalweg"
# A killed run's temporary file of unknown origin (no live process to ask) is stale
# after this long.
STALE_TEMPORARY_SECONDS = 24 * 3600


# ------------------------------------------------------------------ inputs and outputs


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, in words: ``"a FIFO (named pipe)"``, ...

    >>> import stat
    >>> file_kind(stat.S_IFCHR)
    'a character device'
    """
    for test, words in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISREG, "a regular file"),
    ):
        if test(mode):
            return words
    return "not a regular file"


def check_input_file(path, what: str = "file", missing_error: type = FileFormatError) -> Path:
    """``path`` as a Path if it is a readable regular file; else a one-line error.

    A folder, a FIFO, a device such as ``/dev/zero``, a broken symlink or an unreadable
    file are each named as what they are (never as "empty" or "no such file").
    ``missing_error`` is the class raised for a path that does not exist.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise FileFormatError(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; "
                "check the path"
            ) from None
        raise missing_error(
            f"{path}: no such file; check the path (and the current folder)"
        ) from None
    except PermissionError:
        raise FileFormatError(
            f"{path} cannot be read (permission denied); check its permissions"
        ) from None
    except OSError as error:
        raise FileFormatError(f"{path} cannot be read ({error.strerror or error})") from None
    if stat.S_ISDIR(info.st_mode):
        raise FileFormatError(f"{path} is a folder, not a file; pass the {what} inside it")
    if not stat.S_ISREG(info.st_mode):
        raise FileFormatError(
            f"{path} is not a regular file (it is {file_kind(info.st_mode)}); pass a {what} "
            "saved on disk"
        )
    if not os.access(path, os.R_OK):
        raise FileFormatError(f"{path} cannot be read (permission denied); check its permissions")
    return path


def destination(path) -> Path:
    """Where writing ``path`` puts the bytes: the path itself, or, for a symbolic link,
    the file it points to (links are written through). Raises OutputPathError for a
    folder, a device, a FIFO or a socket.
    """
    path = Path(path)
    if path.name in ("", ".", "..") or str(path).endswith(os.sep):
        raise OutputPathError(f"{path} is a folder; give a file name, e.g. {path / 'out'}")
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    except OSError:
        return target  # unreadable metadata: the write itself will say what is wrong
    if stat.S_ISDIR(mode):
        raise OutputPathError(f"{path} is a folder; give a file name, e.g. {path / 'out'}")
    if not stat.S_ISREG(mode):
        raise OutputPathError(
            f"{path} is not a regular file (it is {file_kind(mode)}); thalweg writes only to "
            "regular files, because replacing it would destroy it: choose a file name"
        )
    return target


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def check_outputs(
    outputs: Mapping[str, str | os.PathLike | None],
    inputs: Mapping[str, str | os.PathLike | None] | None = None,
) -> dict[str, Path]:
    """Check, before any work, that every output can be written and destroys no input.

    Parameters
    ----------
    outputs : mapping of a label (``"--out"``) to a path (None: not written)
    inputs : mapping of a description (``"the model file"``) to a path (None: none)

    Returns
    -------
    dict of label -> Path: the outputs that will be written.

    Raises
    ------
    OutputPathError
        An output is one of the inputs (same resolved path or same file: device and
        inode, so links count), lies inside an input folder, is a folder, a device, a
        FIFO or a socket, is named twice, sits below a file, or its folder is not
        writable.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> data = os.path.join(folder, "data.csv"); _ = open(data, "w").write("x\\n1\\n")
    >>> check_outputs({"--out": data}, {"the data file": data})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    thalweg.errors.OutputPathError: --out ... is the data file this command reads; \
writing it would destroy it: choose another name
    """
    chosen = {label: Path(p) for label, p in outputs.items() if p is not None}
    sources = {what: Path(p) for what, p in (inputs or {}).items() if p is not None}
    seen: dict[Path, str] = {}
    for label, path in chosen.items():
        shown = f"{label} {path}"
        try:
            target = destination(path)
        except OutputPathError as error:
            raise OutputPathError(f"{label} {error}") from None
        resolved = Path(os.path.realpath(target))
        if resolved in seen:
            raise OutputPathError(
                f"{seen[resolved]} and {label} are both {path}; give them different names"
            )
        seen[resolved] = label
        identity = _identity(target)
        for what, source in sources.items():
            source_resolved = Path(os.path.realpath(source))
            same = resolved == source_resolved or (
                identity is not None and identity == _identity(source)
            )
            if same:
                raise OutputPathError(
                    f"{shown} is {what} this command reads; writing it would destroy it: "
                    "choose another name"
                )
            if source.is_dir() and source_resolved in resolved.parents:
                raise OutputPathError(
                    f"{shown} is inside {what} ({source}), which this command reads; "
                    "write it somewhere else"
                )
        _check_folder(shown, target)
    return chosen


def check_output_folder(
    label: str, path, inputs: Mapping[str, str | os.PathLike | None] | None = None
) -> Path:
    """Check, before any work, that ``path`` can be a folder this command writes into.

    It must be a folder or not exist yet (not a file, a device, a FIFO), its nearest
    existing folder must be writable, and it must be neither one of the ``inputs`` nor
    inside an input folder (files written there would become part of the input: a
    cache inside a folder of class sub-folders would be read as a class).

    >>> import tempfile
    >>> images = tempfile.mkdtemp()
    >>> inputs = {"the image folder": images}
    >>> check_output_folder("--cache", os.path.join(images, "cache"), inputs)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    thalweg.errors.OutputPathError: --cache ... is inside the image folder (...), which \
this command reads; write it somewhere else
    """
    path = Path(path)
    shown = f"{label} {path}"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise OutputPathError(f"cannot use {shown} ({error.strerror or error})") from None
    if mode is not None and not stat.S_ISDIR(mode):
        raise OutputPathError(
            f"{shown} is {file_kind(mode)}, not a folder; give a folder to write into"
        )
    resolved = Path(os.path.realpath(path))
    for what, source in (inputs or {}).items():
        if source is None or not isinstance(source, str | os.PathLike):
            continue
        source_resolved = Path(os.path.realpath(source))
        if resolved == source_resolved:
            raise OutputPathError(
                f"{shown} is {what} this command reads; writing into it would change it: "
                "choose another folder"
            )
        if Path(source).is_dir() and source_resolved in resolved.parents:
            raise OutputPathError(
                f"{shown} is inside {what} ({source}), which this command reads; write it "
                "somewhere else"
            )
    _check_folder(shown, path / "x" if mode is not None else path)
    return path


@contextlib.contextmanager
def atomic_folder(path) -> Iterator[Path]:
    """Fill a new folder completely, or not at all: yields a hidden staging folder
    beside ``path``; when the block ends without an error it is renamed to ``path``
    (which must not exist, or be an empty folder); on any error, Ctrl-C included, the
    staging folder is deleted and ``path`` is untouched.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out"
    >>> with atomic_folder(target) as staging:
    ...     _ = (staging / "a.txt").write_text("a")
    ...     target.exists()
    False
    >>> sorted(p.name for p in target.iterdir())
    ['a.txt']
    """
    import shutil

    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f"{_temporary_prefix(target)}{os.getpid()}-", dir=parent)
    )
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp's folder is private; a plain mkdir's is not
    try:
        yield staging
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()  # an empty folder is replaced (os.rename cannot replace it)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _check_folder(shown: str, path: Path) -> None:
    """The nearest existing folder above ``path`` must be a writable folder."""
    folder = path.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent  # atomic_write creates missing folders below this one
    if not folder.is_dir() or (os.path.exists(path.parent) and not path.parent.is_dir()):
        raise OutputPathError(
            f"cannot write {shown}: {folder} is a file, not a folder; choose another path"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"cannot write {shown}: the folder {folder} is not writable; choose another path"
        )


# ------------------------------------------------------------------ atomic writing


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}."


# A temporary file of atomic_write: ".NAME.PID-RANDOM.tmp" (RANDOM is mkstemp's 8 chars).
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)-[a-z0-9_]{8}\.tmp")
# Folders whose stale temporaries this process has removed already: each is scanned once
# per process (a cache of thousands of shards must not list its folder at every write).
_CLEANED_FOLDERS: set[str] = set()


def remove_stale_temporaries(path, whole_folder: bool = False) -> list[Path]:
    """Delete hidden temporary files that killed runs left beside ``path``.

    A temporary is ``.NAME.PID-RANDOM.tmp``; it is stale when process PID no longer
    exists, or when it is older than :data:`STALE_TEMPORARY_SECONDS` (one from another
    machine sharing the folder). Only those of ``path`` are removed, or, with
    ``whole_folder``, those of every destination in its folder. Returns the files
    removed.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        found = _TEMPORARY.fullmatch(entry.name)
        if found is None or (not whole_folder and found.group("name") != target.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        pid = int(found.group("pid"))
        stale = age > STALE_TEMPORARY_SECONDS or (pid != os.getpid() and not _process_exists(pid))
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or cannot tell): keep its file
    return True


@dataclass
class _Staged:
    temporary: str
    target: Path
    shown: Path


class _Batch:
    """Outputs of one :func:`write_together` block, renamed into place at its end."""

    def __init__(self) -> None:
        self.staged: list[_Staged] = []

    def add(self, staged: _Staged) -> None:
        for earlier in [s for s in self.staged if s.target == staged.target]:
            self.staged.remove(earlier)  # written twice: the last version wins
            with contextlib.suppress(FileNotFoundError):
                os.unlink(earlier.temporary)
        self.staged.append(staged)

    def discard(self) -> None:
        for staged in self.staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged.temporary)
        self.staged.clear()

    def commit(self) -> list[Path]:
        written: list[Path] = []
        for index, staged in enumerate(self.staged):
            try:
                _replace(staged.temporary, staged.target, staged.shown)
            except (OSError, OutputPathError) as error:
                rest = self.staged[index:]
                for later in rest:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(later.temporary)
                reason = getattr(error, "strerror", None) or str(error)
                done = ", ".join(str(s) for s in written) or "nothing"
                missed = ", ".join(str(s.shown) for s in rest)
                raise PartialWriteError(
                    f"could not write {staged.shown} ({reason}); written: {done}; not "
                    f"written (unchanged): {missed}"
                ) from None
            written.append(staged.shown)
        self.staged.clear()
        return written


_BATCH: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "thalweg_write_batch", default=None
)


@contextlib.contextmanager
def write_together() -> Iterator[_Batch]:
    """Commit every file written inside the block together, after the block succeeds.

    Each :func:`atomic_write` inside keeps its temporary file; when the block ends
    without an error they are renamed into place one after the other. If the block
    raises, every temporary is deleted and no destination changes. Nested blocks join
    the outermost one.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with write_together():
    ...     with atomic_write(os.path.join(folder, "a.txt"), "w") as f:
    ...         _ = f.write("a")
    ...     os.path.exists(os.path.join(folder, "a.txt"))  # not yet
    False
    >>> sorted(os.listdir(folder))
    ['a.txt']
    """
    outer = _BATCH.get()
    if outer is not None:
        yield outer
        return
    batch = _Batch()
    token = _BATCH.set(batch)
    try:
        yield batch
    except BaseException:
        batch.discard()
        raise
    finally:
        _BATCH.reset(token)
    batch.commit()


def _replace(temporary: str, target: Path, shown: Path) -> None:
    destination(target)  # still a regular file (or nothing) right before the rename
    os.replace(temporary, target)


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file next to ``path``; on success rename it to ``path``.

    On any exception the temporary file is removed and ``path`` is untouched. A
    symbolic link is written through; a folder, device, FIFO or socket is refused with
    OutputPathError. Inside :func:`write_together` the rename waits for the block's end.

    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with atomic_write(target, "w") as f:
    ...     _ = f.write("done")
    >>> open(target).read()
    'done'
    """
    shown = Path(path)
    target = destination(shown)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(folder)
    if key not in _CLEANED_FOLDERS:  # once per folder and process: see remove_stale_...
        _CLEANED_FOLDERS.add(key)
        remove_stale_temporaries(target, whole_folder=True)
    fd, temporary = tempfile.mkstemp(
        prefix=f"{_temporary_prefix(target)}{os.getpid()}-", suffix=".tmp", dir=folder
    )
    # mkstemp makes the file private (0600); give it the permissions a plain open() would
    # (or those of the file it replaces), so reports and models can be shared.
    os.chmod(temporary, _permissions_for(target))
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        batch = _BATCH.get()
        if batch is not None:
            batch.add(_Staged(temporary, target, shown))
        else:
            _replace(temporary, target, shown)
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


# ------------------------------------------------------------------ the container


def write_container(path, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """Write arrays (safetensors) plus JSON ``metadata`` to ``path``, atomically.

    The metadata must be JSON with valid Unicode text (no lone surrogates): what is
    written is exactly what a reader will check.
    """
    from safetensors.numpy import save

    header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **metadata}
    try:
        text = json.dumps(header)
        text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as error:
        raise TypeError(f"cannot write {path}: its metadata is not JSON text ({error})") from None
    payload = save(
        {name: np.ascontiguousarray(a) for name, a in arrays.items()},
        metadata={_METADATA_KEY: text},
    )
    with atomic_write(path, "wb") as handle:
        handle.write(payload)


def header_schema(
    kind: str,
    required: Mapping[str, Schema] | None = None,
    optional: Mapping[str, Schema] | None = None,
    extra: Schema | None = None,
) -> Record:
    """The schema of a whole header of this ``kind``: the container's own fields
    (``format``, ``format_version``, ``kind``, ``thalweg_version``) and the kind's
    (``extra``: what other keys may hold; by default there are none)."""
    return Record(
        required={
            "format": Text(choices=(FORMAT_NAME,)),
            "format_version": Integer(minimum=1, maximum=FORMAT_VERSION),
            "kind": Text(choices=(kind,)),
            **(required or {}),
        },
        optional={"thalweg_version": Text(max_length=100), **(optional or {})},
        extra=extra,
        name=f"a {kind} header",
    )


def check_tensors(
    container: Container,
    expected: Mapping[str, tuple[tuple[int, ...], np.dtype | None]],
    prefix: str = "",
    what: str = "the header",
) -> None:
    """Check that the arrays stored under ``prefix`` are exactly ``expected``
    (``{name: (shape, dtype)}``, a None dtype matching any), before any is loaded.

    Raises a one-line FileFormatError naming the first array that is missing, extra, or
    of another shape or dtype than ``what`` declares.
    """
    source = f"{container.path} is damaged"
    stored = {
        n[len(prefix) :]: info for n, info in container.tensors.items() if n.startswith(prefix)
    }
    for name, (shape, dtype) in expected.items():
        info = stored.get(name)
        declared = f"{what} declares {prefix}{name} of shape {tuple(shape)}"
        if info is None:
            raise FileFormatError(f"{source}: {declared}, which the file does not store")
        if info.shape != tuple(shape):
            raise FileFormatError(f"{source}: {declared}, but the file stores {info.shape}")
        if dtype is not None and info.dtype != dtype:
            raise FileFormatError(
                f"{source}: {declared} and dtype {np.dtype(dtype)}, but the file stores "
                f"{info.dtype}"
            )
    extra = sorted(set(stored) - set(expected))
    if extra:
        raise FileFormatError(
            f"{source}: it stores {prefix}{extra[0]}, which {what} does not declare"
        )


# safetensors dtype names -> NumPy; anything else (bfloat16, float8) is refused.
_DTYPES = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "U16": np.dtype(np.uint16),
    "I16": np.dtype(np.int16),
    "F16": np.dtype(np.float16),
    "U32": np.dtype(np.uint32),
    "I32": np.dtype(np.int32),
    "F32": np.dtype(np.float32),
    "U64": np.dtype(np.uint64),
    "I64": np.dtype(np.int64),
    "F64": np.dtype(np.float64),
}


@dataclass(frozen=True)
class TensorInfo:
    """A stored tensor as its header declares it (nothing loaded)."""

    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=object)) * self.dtype.itemsize


# Upgrades of the JSON metadata, by the version they upgrade *from*. Each takes the
# metadata of version v and returns that of version v + 1.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {
    1: lambda meta: meta,  # version 2 only added text arrays to "arrays" files
    2: lambda meta: meta,  # version 3 only added optional fields
}


class Container:
    """An opened thalweg file: its metadata and its tensors' declared dtypes and shapes.

    Nothing is loaded until :meth:`read`; a reader checks the metadata against
    :attr:`tensors` first. Use as a context manager (or call :meth:`close`).
    """

    def __init__(self, path: Path, handle, metadata: dict, tensors: dict[str, TensorInfo]):
        self.path, self._handle = path, handle
        self.metadata, self.tensors = metadata, tensors

    def read(self, name: str) -> np.ndarray:
        """Load one tensor (a fresh, writable array of the declared dtype and shape)."""
        if name not in self.tensors:
            raise FileFormatError(f"{self.path} is damaged: it has no stored array {name!r}")
        try:
            array = self._handle.get_tensor(name)
        except Exception as error:  # safetensors raises its own error type
            raise FileFormatError(
                f"{self.path}: the weights are corrupt or truncated ({error})"
            ) from None
        info = self.tensors[name]
        if array.shape != info.shape or array.dtype != info.dtype:  # the file changed
            raise FileFormatError(f"{self.path} changed while it was being read; try again")
        return array

    def read_all(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Every tensor whose name starts with ``prefix`` (the prefix removed)."""
        return {
            name[len(prefix) :]: self.read(name) for name in self.tensors if name.startswith(prefix)
        }

    def close(self) -> None:
        self._handle = None

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_container(path, max_bytes: int | None = None) -> Container:
    """Open a file written by :func:`write_container`, reading only its header.

    The header's JSON is parsed (nesting depth and Unicode checked), migrated to the
    current :data:`FORMAT_VERSION`, and the tensors' declared dtypes and shapes are
    listed; the total size they declare is checked against the memory available (and
    ``max_bytes``, if given). Anything else (a pickle, a CSV, garbage, a truncated
    file) raises :class:`~thalweg.errors.FileFormatError` naming the file; nothing in
    it is executed.
    """
    from safetensors import safe_open

    from thalweg.limits import check_memory

    path = check_input_file(path, "thalweg model file")
    not_ours = f"{path} is not a thalweg file (expected a .thalweg model saved by thalweg)"
    with open(path, "rb") as handle:
        start = handle.read(8)
    if len(start) < 8:
        raise FileFormatError(f"{not_ours}: it is only {len(start)} bytes long")
    (header_size,) = struct.unpack("<Q", start)
    if header_size > path.stat().st_size - 8:
        raise FileFormatError(f"{not_ours}: its header is cut off or corrupt")
    try:
        handle = safe_open(str(path), framework="numpy")
        raw = (handle.metadata() or {})[_METADATA_KEY]
    except KeyError:
        raise FileFormatError(f"{not_ours}: it has no thalweg header") from None
    except Exception as error:  # safetensors' own error type: a corrupt header
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise FileFormatError(f"{not_ours}: its header is corrupt ({reason})") from None
    metadata = _parse_metadata(raw, path, not_ours)
    tensors = {}
    for name in handle.keys():
        piece = handle.get_slice(name)
        dtype = _DTYPES.get(piece.get_dtype())
        if dtype is None:
            raise FileFormatError(
                f"{path} is damaged: array {name!r} has dtype {piece.get_dtype()}, which "
                "thalweg never writes"
            )
        tensors[name] = TensorInfo(dtype, tuple(int(n) for n in piece.get_shape()))
    total = sum(info.nbytes for info in tensors.values())
    if max_bytes is not None and total > max_bytes:
        raise FileFormatError(f"{path} declares {total:,} bytes of arrays, more than {max_bytes:,}")
    check_memory(total, f"loading {path}", "load it on a machine with more memory")
    return Container(path, handle, metadata, tensors)


def _parse_metadata(raw: str, path: Path, not_ours: str) -> dict:
    try:
        metadata = json.loads(raw)
    except RecursionError:
        raise FileFormatError(f"{path} is damaged: its header is nested too deeply") from None
    except ValueError:
        raise FileFormatError(f"{not_ours}: its thalweg header is not JSON") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise FileFormatError(f"{not_ours}: its header is not a thalweg header")
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FileFormatError(
            f"{path} is damaged: format_version should be a positive integer, not {version!r}"
        )
    if version > FORMAT_VERSION:
        raise FileFormatError(
            f"{path} was written by a newer thalweg (format {version}); upgrade thalweg to read it"
        )
    while version < FORMAT_VERSION:
        metadata = MIGRATIONS[version](metadata)
        version += 1
        metadata["format_version"] = version
    return metadata


def read_metadata(path) -> dict:
    """Just the JSON metadata of a thalweg file (no array is loaded)."""
    with open_container(path) as container:
        return container.metadata


def read_container(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a whole file written by :func:`write_container`: ``(arrays, metadata)``.

    Readers of model files and checkpoints use :func:`open_container` instead, to check
    the declared structure before loading arrays.
    """
    with open_container(path) as container:
        return container.read_all(), container.metadata
