"""Where data lives: a local path or a URL, resolved to a filesystem and a path in it.

Past one machine, tables live in object stores. Wherever thalweg reads data (``thalweg
train``/``evaluate``/``predict``, ``--stream``, ``--dask``, :func:`thalweg.data.stream`)
it accepts, besides local paths:

==========================  ============================  ===========================
URL                         store                         install
==========================  ============================  ===========================
``s3://bucket/key``         Amazon S3 (or MinIO, Ceph…)   ``pip install 'thalweg[s3]'``
``gs://bucket/key``         Google Cloud Storage          ``pip install 'thalweg[gcs]'``
``az://container/key``      Azure Blob Storage            ``pip install 'thalweg[azure]'``
``hdfs://host:port/path``   Hadoop HDFS                   ``pip install 'thalweg[hdfs]'``
``https://host/file.csv``   any web server                ``pip install 'thalweg[http]'``
==========================  ============================  ===========================

The stores are reached through `fsspec <https://filesystem-spec.readthedocs.io>`_ (the
layer Dask and pandas use), imported only when a URL is read, and wrapped as a pyarrow
filesystem so that the Parquet and CSV readers stream from a store exactly as from a
disk. **Credentials come from the usual environment and nowhere else**: for S3
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (or ``AWS_PROFILE``, ``~/.aws``, an
instance role) and ``AWS_ENDPOINT_URL`` for an S3-compatible server; for GCS
``GOOGLE_APPLICATION_CREDENTIALS``; for Azure ``AZURE_STORAGE_ACCOUNT_NAME`` with
``AZURE_STORAGE_ACCOUNT_KEY`` (or a connection string, or ``az login``). A URL is never
shown whole: :func:`redact` drops passwords and query strings (a pre-signed URL carries
its signature there) from every message, model file and log line.

>>> redact("s3://user:secret@bucket/data/train.parquet?X-Amz-Signature=abc")
's3://bucket/data/train.parquet?…'
>>> location = locate("memory://bucket/data/train.parquet")  # fsspec's in-memory store
>>> location.name, location.suffix, location.is_remote
('train.parquet', '.parquet', True)
>>> locate("data/train.csv").is_remote
False
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from thalweg.errors import DataError, FileFormatError

__all__ = [
    "PROTOCOLS",
    "Location",
    "is_url",
    "local_copy",
    "locate",
    "open_for_reading",
    "read_through_local_copy",
    "redact",
]

# Scheme -> (the package fsspec needs for it, the thalweg extra that installs it, what
# the store is called, where its credentials come from).
PROTOCOLS = {
    "s3": ("s3fs", "s3", "S3", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"),
    "s3a": ("s3fs", "s3", "S3", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"),
    "gs": ("gcsfs", "gcs", "Google Cloud Storage", "GOOGLE_APPLICATION_CREDENTIALS"),
    "gcs": ("gcsfs", "gcs", "Google Cloud Storage", "GOOGLE_APPLICATION_CREDENTIALS"),
    "az": (
        "adlfs",
        "azure",
        "Azure Blob Storage",
        "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or az login)",
    ),
    "abfs": (
        "adlfs",
        "azure",
        "Azure Blob Storage",
        "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or az login)",
    ),
    "abfss": (
        "adlfs",
        "azure",
        "Azure Blob Storage",
        "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or az login)",
    ),
    "hdfs": ("pyarrow", "hdfs", "HDFS", "your Kerberos ticket (kinit) or HADOOP_USER_NAME"),
    "http": ("aiohttp", "http", "the web server", "a URL the server accepts"),
    "https": ("aiohttp", "http", "the web server", "a URL the server accepts"),
    "memory": ("fsspec", "s3", "memory", "nothing"),  # fsspec's in-memory store (tests)
}

_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def is_url(path) -> bool:
    """Whether ``path`` is a URL (``scheme://...``) rather than a local path.

    ``file://`` URLs count as URLs (they are read through fsspec's local filesystem).

    >>> is_url("s3://bucket/x.csv"), is_url("data/x.csv"), is_url(Path("x.csv"))
    (True, False, False)
    """
    return isinstance(path, str) and _URL.match(path) is not None


def redact(text: str) -> str:
    """A URL safe to show: no user name or password, no query string or fragment.

    Pre-signed S3 URLs and Azure SAS URLs carry their credentials in the query string;
    ``user:password@`` puts them before the host. Anything that is not a URL comes back
    unchanged.

    >>> redact("https://me:hunter2@example.com/t.csv?sig=abc#top")
    'https://example.com/t.csv?…'
    >>> redact("s3://bucket/data.parquet")
    's3://bucket/data.parquet'
    """
    if not is_url(text):
        return text
    parts = urlsplit(text)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    hidden = "?…" if parts.query or parts.fragment else ""
    return urlunsplit((parts.scheme, host, parts.path, "", "")) + hidden


def _missing_package(scheme: str, package: str) -> DataError:
    _, extra, store, _ = PROTOCOLS[scheme]
    return DataError(
        f"reading {scheme}:// URLs ({store}) needs the {package} package, which is not "
        f"installed: pip install 'thalweg[{extra}]'"
    )


def _fsspec_filesystem(scheme: str, url: str):
    """An fsspec filesystem for ``scheme``, configured from the environment only."""
    if scheme not in PROTOCOLS:
        known = ", ".join(f"{s}://" for s in PROTOCOLS if s != "memory")
        raise DataError(f"{redact(url)}: thalweg cannot read {scheme}:// URLs; it reads {known}")
    package = PROTOCOLS[scheme][0]
    try:
        import fsspec
    except ImportError:
        raise _missing_package(scheme, "fsspec") from None
    if package not in ("fsspec", "pyarrow"):
        try:
            __import__(package)
        except ImportError:
            raise _missing_package(scheme, package) from None
    try:
        # Credentials come from the environment (never from the URL), as on every Dask
        # worker; a fresh instance reads the environment as it is now.
        return fsspec.filesystem(scheme, skip_instance_cache=True)
    except ImportError as error:
        raise _missing_package(scheme, getattr(error, "name", None) or package) from None


class Location:
    """One file or folder: a pyarrow filesystem and the path inside it.

    Build one with :func:`locate`. ``str(location)`` is the redacted text (safe for
    messages and model files); :attr:`url` is the full URL, for the readers only.

    Attributes
    ----------
    filesystem : pyarrow.fs.FileSystem
    path : str
        The path inside ``filesystem`` (``bucket/key`` for object stores).
    url : str
        What was given (a URL, or the local path as text).
    is_remote : bool
        False for local paths.
    scheme : str
        ``"file"`` for local paths, else the URL's scheme.
    """

    def __init__(self, filesystem, path: str, url: str, scheme: str, fsspec_filesystem=None):
        self.filesystem = filesystem
        self.path = path
        self.url = url
        self.scheme = scheme
        self.is_remote = scheme != "file"
        self.fsspec = fsspec_filesystem

    def __str__(self) -> str:
        return redact(self.url)

    def __repr__(self) -> str:
        return f"Location({str(self)!r})"

    def __fspath__(self) -> str:
        if self.is_remote:
            raise TypeError(f"{self} is a URL, not a local path; open it with .open_input_file()")
        return self.path

    @property
    def name(self) -> str:
        """The last component of the path (the file name)."""
        path = urlsplit(self.url).path if self.is_remote else self.path
        return PurePosixPath(path).name

    @property
    def suffix(self) -> str:
        """The file name's last suffix, lower-case: ``".parquet"``."""
        return PurePosixPath(self.name).suffix.lower()

    def child(self, path: str) -> Location:
        """Another path in the same filesystem (a file found inside a folder)."""
        if self.is_remote:
            parts = urlsplit(self.url)
            tail = PurePosixPath(path).relative_to(PurePosixPath(self.path.rstrip("/")))
            folder = parts.path.rstrip("/")
            url = urlunsplit(parts._replace(path=f"{folder}/{tail.as_posix()}"))
        else:
            url = path
        return Location(self.filesystem, path, url, self.scheme, self.fsspec)

    # ------------------------------------------------------------------ asking
    def _info(self):
        with translate_errors(self):
            return self.filesystem.get_file_info(self.path)

    def exists(self) -> bool:
        from pyarrow import fs

        return self._info().type != fs.FileType.NotFound

    def is_dir(self) -> bool:
        from pyarrow import fs

        return self._info().type == fs.FileType.Directory

    def size(self) -> int | None:
        """Bytes in the file (None when the store does not say)."""
        return self._info().size

    def files(self, suffixes) -> list[Location]:
        """The files directly inside this folder whose suffix is one of ``suffixes``,
        sorted by name."""
        from pyarrow import fs

        with translate_errors(self):
            infos = self.filesystem.get_file_info(fs.FileSelector(self.path, recursive=False))
        found = sorted(
            info.path
            for info in infos
            if info.type == fs.FileType.File and PurePosixPath(info.path).suffix.lower() in suffixes
        )
        return [self.child(path) for path in found]

    def identity(self) -> str:
        """A short text that changes when the file does: size and modification time
        (or ETag), with the redacted URL; for resuming checkpoints, never a secret."""
        info = self._info()
        mtime = info.mtime.isoformat() if info.mtime is not None else ""
        return f"{self}|{info.size}|{mtime}"

    # ------------------------------------------------------------------ reading
    def open_input_file(self):
        """A random-access pyarrow file (seek, read ranges): Parquet, ``.npy`` pieces."""
        with translate_errors(self):
            return self.filesystem.open_input_file(self.path)

    def open_input_stream(self):
        """A sequential pyarrow stream (CSV read front to back)."""
        with translate_errors(self):
            return self.filesystem.open_input_stream(self.path)


@contextlib.contextmanager
def open_for_reading(path, random_access: bool = True):
    """What a pyarrow reader reads: a local path (``Path`` or text) as text, or a
    :class:`Location` opened as a pyarrow file (``random_access``: seekable, for Parquet
    and ``.npy``; otherwise a sequential stream, for CSV), closed afterwards.

    >>> with open_for_reading("table.csv") as source:
    ...     source
    'table.csv'
    """
    if not isinstance(path, Location):
        yield str(path)
        return
    handle = path.open_input_file() if random_access else path.open_input_stream()
    with handle:
        yield handle


def locate(path_or_url) -> Location:
    """Resolve a local path or a URL to a :class:`Location`.

    Local paths get pyarrow's local filesystem (nothing extra is imported); URLs get the
    fsspec filesystem of their scheme, configured from the environment. A missing
    package raises a :class:`~thalweg.errors.DataError` naming the extra to install.

    >>> locate("table.csv").scheme
    'file'
    """
    from pyarrow import fs

    if isinstance(path_or_url, Location):
        return path_or_url
    if not is_url(path_or_url):
        path = os.path.abspath(os.fspath(path_or_url))
        return Location(fs.LocalFileSystem(), path, os.fspath(path_or_url), "file")
    url = str(path_or_url)
    scheme = _URL.match(url).group(1).lower()
    if scheme == "file":
        path = urlsplit(url).path
        return Location(fs.LocalFileSystem(), path, url, "file")
    filesystem = _fsspec_filesystem(scheme, url)
    if scheme in ("http", "https"):
        path = url  # HTTP "paths" are the URLs themselves (a signed query included)
    else:
        # Object stores: bucket and key only (no user name, password or query).
        parts = urlsplit(url)
        host = parts.netloc.rsplit("@", 1)[-1]
        path = filesystem._strip_protocol(f"{scheme}://{host}{parts.path}")
    arrow = fs.PyFileSystem(fs.FSSpecHandler(filesystem))
    return Location(arrow, path, url, scheme, filesystem)


@contextlib.contextmanager
def translate_errors(location: Location) -> Iterator[None]:
    """Turn a store's errors into one line naming the problem and the fix.

    Refused credentials, a missing file, an unreachable server: each becomes a
    :class:`~thalweg.errors.DataError` or :class:`~thalweg.errors.FileFormatError` that
    names the redacted URL and what to set. Messages from the store are not passed on
    (they may quote a signed URL).
    """
    try:
        yield
    except (DataError, FileFormatError):
        raise
    except Exception as error:
        if not location.is_remote:
            raise
        raise _store_error(location, error) from None


def _store_error(location: Location, error: BaseException) -> Exception:
    scheme = location.scheme
    _, _, store, credentials = PROTOCOLS.get(scheme, ("", "", scheme, "credentials"))
    name = type(error).__name__
    text = f"{name} {error}".lower()
    if isinstance(error, PermissionError) or any(
        word in text for word in ("forbidden", "accessdenied", "access denied", "403", "401")
    ):
        return DataError(
            f"{location}: {store} refused access (bad or missing credentials, or no "
            f"permission on this object); set {credentials} in the environment"
        )
    if "nocredentials" in text or "unable to locate credentials" in text:
        return DataError(f"{location}: no credentials found for {store}; set {credentials}")
    if isinstance(error, FileNotFoundError) or "nosuchkey" in text or "404" in text:
        return DataError(f"{location}: no such file or folder; check the URL")
    if isinstance(error, ConnectionError | TimeoutError) or "connect" in text:
        return DataError(
            f"{location}: cannot reach {store} ({name}); check the network and the "
            "endpoint (AWS_ENDPOINT_URL for an S3-compatible server)"
        )
    return DataError(f"{location}: reading from {store} failed ({name}); check the URL")


_T = TypeVar("_T")


@contextlib.contextmanager
def local_copy(location: Location) -> Iterator[Path]:
    """A temporary local copy of a remote file (deleted afterwards), keeping its name."""
    folder = Path(tempfile.mkdtemp(prefix="thalweg-"))
    target = folder / (location.name or "data")
    try:
        with location.open_input_stream() as source, open(target, "wb") as sink:
            with translate_errors(location):
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_through_local_copy(url: str, read: Callable[[Path], _T]) -> _T:
    """``read(path)`` on a temporary local copy of the file at ``url``.

    For readers that load a whole file anyway (``thalweg.io.read_table``): the local
    reader, with all its checks, runs unchanged, and its messages name the URL (redacted)
    instead of the temporary file.
    """
    location = locate(url)
    if not location.exists():
        raise DataError(f"{location}: no such file; check the URL")
    if location.is_dir():
        raise FileFormatError(f"{location} is a folder, not a file; pass the data file inside it")
    with local_copy(location) as path:
        try:
            return read(path)
        except (DataError, FileFormatError) as error:
            message = str(error).replace(str(path), str(location))
            raise type(error)(message) from None
