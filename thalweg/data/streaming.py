"""Mini-batches streamed from files bigger than memory: Parquet, CSV and ``.npy``.

Gradient descent needs one mini-batch at a time, never the whole data set. A
:class:`Stream` reads its files piece by piece (Parquet row groups, CSV blocks, slices
of a memory-mapped ``.npy``) and hands out ``(X, y)`` batches. It holds at most the
shuffle buffer, one read chunk and one batch in memory, whatever the size of the files.

Shuffling data you cannot hold happens at three levels, drawn again every epoch:

1. the order of the files;
2. the order of the pieces inside each file (Parquet row groups, ``.npy`` slices of
   ``read_rows`` rows; a CSV file has no index to jump around in, so it is read front to
   back);
3. a *shuffle buffer* of ``shuffle_buffer`` rows: incoming rows take the places of
   buffered rows drawn at random, and the rows they displace leave in random order
   (tf.data's scheme, done an eighth of a buffer at a time with vectorised copies rather
   than a Python loop per row; see :func:`_shuffle_buffer`).

A row waits in the buffer for up to two buffer-lengths, so the mixing reaches about
``shuffle_buffer`` rows ahead: with a buffer larger than a piece, and pieces visited in
random order, batches look like those of a full shuffle. ``shuffle_buffer=0`` reads
everything in file order (no shuffling at all).

The stream is a *batch source* for :func:`thalweg.train.fit` (``epoch_batches(rng,
skip)``, ``n_samples``, ``batch_size``; see :mod:`thalweg.train.batches`) and can be
iterated directly: ``for X, y in stream`` runs ``epochs`` epochs.

Where the files are
-------------------
Local paths, or URLs of object stores and web servers (``s3://bucket/folder/``,
``gs://``, ``az://``, ``hdfs://``, ``https://``), read piece by piece through
:mod:`thalweg.data.filesystems` with credentials from the environment: Parquet row
groups and ``.npy`` row ranges are fetched as ranged reads, CSV front to back.

Where the target is
-------------------
* Parquet and CSV: ``target`` names a column; the features are ``columns`` (names) or
  every other column. Feature columns must hold numbers (integers, floats, booleans).
* ``.npy``: each file holds a 2-D numeric array ``(n_rows, n_columns)``. ``target`` is
  either a column index into it (``target=-1``: the last column), or the path of a second
  ``.npy`` file holding ``y`` (``(n_rows,)``), one per feature file, in the same order
  (``stream(["a_X.npy", "b_X.npy"], target=["a_y.npy", "b_y.npy"], ...)``). ``columns``
  are column indices. Files are read with ``allow_pickle=False``: nothing in them runs.
* ``target=None``: rows without a target, for unsupervised learning (``KMeans.fit_stream``);
  every column (or ``columns``) is a feature and the batches are ``(X, None)``.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path

import numpy as np

from thalweg.data.filesystems import Location, is_url, locate, open_for_reading
from thalweg.errors import DataError, FileFormatError

__all__ = ["Stream", "stream"]

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".npy": "npy"}
CSV_BLOCK_BYTES = 1 << 20  # one CSV block read at a time (pyarrow's default size)


def stream(
    path_or_paths,
    *,
    target,
    columns: Sequence | None = None,
    batch_size: int,
    shuffle_buffer: int = 16_384,
    seed: int | None = None,
    epochs: int = 1,
    read_rows: int = 65_536,
    dtype=np.float32,
) -> Stream:
    """Stream ``(X, y)`` mini-batches from Parquet, CSV or ``.npy`` files.

    Parameters
    ----------
    path_or_paths : path, folder, URL, or list of them
        One file, a folder (its ``.parquet``/``.pq``/``.csv``/``.npy`` files, sorted), or
        a list of files of one format; each may be a URL (``s3://bucket/data/``, see
        :mod:`thalweg.data.filesystems`).
    target : str, int, path, list of paths, or None
        The column holding ``y`` (a name for Parquet/CSV; for ``.npy`` a column index or
        the ``.npy`` file(s) holding ``y``; see the module docstring). None: no target,
        the batches are ``(X, None)``.
    columns : list, optional
        Feature columns (names, or indices for ``.npy``); default: all but the target.
    batch_size : int
        Rows per batch (the last batch of an epoch may be smaller).
    shuffle_buffer : int
        Rows held for shuffling (at least ``batch_size``); 0 reads in file order.
    seed : int, optional
        Makes the order reproducible (mixed with ``fit``'s own seed when training).
    epochs : int
        Epochs when the stream is iterated directly (``for X, y in stream``).
    read_rows : int
        Rows per read chunk (and per ``.npy`` piece).
    dtype : numpy dtype
        dtype of ``X`` (``y`` keeps the file's type: numbers or labels).

    Returns
    -------
    Stream
        ``X`` batches are ``(batch, n_features)`` arrays of ``dtype``, ``y`` ``(batch,)``.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "data.npy")
    >>> np.save(path, np.arange(20.0).reshape(10, 2))  # column 1 is the target
    >>> s = stream(path, target=1, batch_size=4, shuffle_buffer=0)
    >>> [X.shape for X, y in s], s.n_samples
    ([(4, 1), (4, 1), (2, 1)], 10)
    """
    _check_settings(batch_size, shuffle_buffer, epochs, read_rows)
    paths = _expand(path_or_paths)
    kinds = {FORMATS[p.suffix.lower()] for p in paths}
    if len(kinds) > 1:
        raise FileFormatError(f"stream: the files mix formats ({sorted(kinds)}); use one format")
    kind = kinds.pop()
    if kind == "npy":
        readers = _npy_readers(paths, target, columns, read_rows)
    else:
        if target is not None and not isinstance(target, str):
            raise DataError(
                f"stream: target must be a column name for {kind} files, got {target!r}"
            )
        reader_class = _ParquetReader if kind == "parquet" else _CsvReader
        readers = [reader_class(paths[0], target, columns)]
        features = readers[0].feature_names
        readers += [reader_class(p, target, features) for p in paths[1:]]
    return Stream(
        readers,
        batch_size=batch_size,
        shuffle_buffer=shuffle_buffer,
        seed=seed,
        epochs=epochs,
        read_rows=read_rows,
        dtype=dtype,
    )


def _check_settings(batch_size: int, shuffle_buffer: int, epochs: int, read_rows: int) -> None:
    if int(batch_size) < 1:
        raise ValueError(f"stream: batch_size must be at least 1, got {batch_size}")
    if shuffle_buffer and shuffle_buffer < batch_size:
        raise ValueError(
            f"stream: shuffle_buffer ({shuffle_buffer}) must be 0 (no shuffling) or at "
            f"least batch_size ({batch_size})"
        )
    if int(epochs) < 1 or int(read_rows) < 1:
        raise ValueError("stream: epochs and read_rows must be at least 1")


class Stream:
    """``(X, y)`` batches read from files a piece at a time; build one with :func:`stream`.

    Attributes
    ----------
    n_samples : int or None
        Rows per epoch, when the file metadata says so cheaply (None for CSV).
    batch_size, shuffle_buffer, read_rows, seed, epochs
        As given to :func:`stream`.
    feature_names : list of str or None
        Feature column names (None for ``.npy``).
    n_features : int
    largest_chunk : int
        Most rows ever materialised by one read (at most ``read_rows``): with the buffer
        and one batch, the bound on what the stream holds (see :attr:`max_rows_held`).
    """

    def __init__(
        self,
        readers: list,
        *,
        batch_size: int,
        shuffle_buffer: int,
        seed: int | None,
        epochs: int,
        read_rows: int,
        dtype,
    ):
        _check_settings(batch_size, shuffle_buffer, epochs, read_rows)
        self.readers = readers
        self.batch_size = int(batch_size)
        self.shuffle_buffer = int(shuffle_buffer)
        self.seed = seed
        self.epochs = int(epochs)
        self.read_rows = int(read_rows)
        self.dtype = np.dtype(dtype)
        self.feature_names = readers[0].feature_names
        self.n_features = readers[0].n_features
        self.labelled = readers[0].labelled  # False for target=None: batches are (X, None)
        rows = [reader.n_rows for reader in readers]
        self.n_samples = None if None in rows else int(sum(rows))
        self._check_memory()
        self.transform = None  # see map()
        self.largest_chunk = 0
        self._read_seconds = 0.0  # time spent making batches, for the balance diagnostic
        self._read_examples = 0

    def _check_memory(self) -> None:
        """The buffer, a read chunk and a batch must fit in memory (a stream never holds
        more rows than the files have)."""
        from thalweg.limits import check_rows

        cap = self.n_samples if self.n_samples is not None else float("inf")
        rows = min(self.shuffle_buffer + self.read_rows + self.batch_size, 3 * cap)
        row_bytes = (self.n_features + 1) * max(self.dtype.itemsize, 8) * 2
        check_rows(
            int(rows),
            row_bytes,
            f"a shuffle buffer of {self.shuffle_buffer:,} rows and batches of "
            f"{self.batch_size:,} rows of {self.n_features} features",
            "use a smaller shuffle_buffer or batch_size (--shuffle-buffer, --batch-size)",
        )

    def __repr__(self) -> str:
        files = ", ".join(str(r.path) for r in self.readers[:3])
        more = f", ... ({len(self.readers)} files)" if len(self.readers) > 3 else ""
        return (
            f"Stream([{files}{more}], batch_size={self.batch_size}, "
            f"shuffle_buffer={self.shuffle_buffer}, n_samples={self.n_samples})"
        )

    def map(self, fn) -> Stream:
        """A stream whose chunks are ``fn(X, y) -> (X', y')``, applied as they are read.

        ``fn`` must keep the rows (row ``i`` in gives row ``i`` out; :meth:`filter`
        drops rows); it may overwrite
        ``X``, a fresh array the stream never reads again. Work done here is
        done once per chunk of ``read_rows`` rows, before shuffling, instead of once per
        batch: NumPy's per-call overhead is paid ``read_rows / batch_size`` times less
        often (``fit_stream`` standardizes features and encodes labels this way).

        >>> import numpy as np, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "d.npy")
        >>> np.save(path, np.arange(6.0).reshape(3, 2))
        >>> doubled = stream(path, target=1, batch_size=3, shuffle_buffer=0).map(
        ...     lambda X, y: (2 * X, y))
        >>> next(iter(doubled))[0].ravel().tolist()
        [0.0, 4.0, 8.0]
        """
        mapped = copy.copy(self)
        mapped.transform = fn if self.transform is None else _Then(self.transform, fn)
        return mapped

    def filter(self, keep, n_samples: int | None = None) -> Stream:
        """A stream of the rows for which ``keep(X, y)`` (a boolean array, one per row of
        a chunk) is True, decided as each chunk is read.

        ``n_samples`` is the number of rows kept per epoch when the caller knows it (a
        first pass counted them); otherwise None, as for a file of unknown length.
        ``keep`` must give the same answer for a row on every pass (a seeded draw, a
        test on its values), or epochs will differ in what they train on.

        >>> import numpy as np, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "d.npy")
        >>> np.save(path, np.arange(8.0).reshape(4, 2))
        >>> positive = stream(path, target=1, batch_size=4, shuffle_buffer=0).filter(
        ...     lambda X, y: X[:, 0] > 2)
        >>> next(iter(positive))[0].ravel().tolist(), positive.n_samples
        ([4.0, 6.0], None)
        """
        kept = self.map(_KeepRows(keep))
        kept.n_samples = n_samples
        return kept

    def unbatched(self) -> Stream:
        """The same stream handing out its shuffled blocks (up to ``read_rows`` rows)
        instead of batches, for a consumer that cuts batches itself.

        ``fit_stream`` reads in a background thread and cuts batches in the training
        thread (``Pipeline(stream.unbatched()).prefetch(k).batch(B)``): one hand-over
        between threads per block instead of one per batch.
        """
        blocks = copy.copy(self)
        blocks.batch_size = None
        return blocks

    @property
    def max_rows_held(self) -> int:
        """Rows the stream has held at most: buffer + largest chunk + one batch."""
        return self.shuffle_buffer + self.largest_chunk + (self.batch_size or 0)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(self.seed)
        for _ in range(self.epochs):
            yield from self.epoch_batches(rng)

    def epoch_batches(
        self, rng: np.random.Generator, skip: int = 0
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch of ``(X, y)`` batches, in an order drawn from ``rng``; the first
        ``skip`` batches are dropped (a resumed epoch). After :meth:`unbatched`, the
        batches are the shuffled blocks themselves (at most ``read_rows`` rows each)."""
        # One draw from the caller's generator per epoch: a resumed run, restored to the
        # same generator state, regenerates the same order.
        entropy = [int(rng.integers(2**63))] + ([] if self.seed is None else [int(self.seed)])
        epoch_rng = np.random.default_rng(entropy)
        if self.shuffle_buffer:
            files = epoch_rng.permutation(len(self.readers))
            blocks = _shuffle_buffer(self._chunks(files, epoch_rng), self.shuffle_buffer, epoch_rng)
        else:
            blocks = self._chunks(range(len(self.readers)), None)
        if self.batch_size is not None:
            blocks = _rebatch(blocks, self.batch_size)
        batches = islice(blocks, skip, None)
        while True:
            started = time.perf_counter()
            batch = next(batches, None)
            if batch is None:
                return
            self._read_seconds += time.perf_counter() - started
            self._read_examples += len(batch[0])
            yield _without_stand_in(batch)

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every row once, in file order, in chunks of at most ``read_rows`` rows.

        For passes where order does not matter (statistics for the preprocessing): no
        shuffle buffer, no re-batching.
        """
        return map(_without_stand_in, self._chunks(range(len(self.readers)), None))

    def input_stats(self) -> dict:
        """Cumulative time spent making batches and examples made (balance diagnostic)."""
        return {
            "seconds": self._read_seconds,
            "examples": self._read_examples,
            "workers": 1,
            "cached": False,
            "mapped": False,  # only reading: there is no feature function to parallelise
        }

    def _chunks(self, files, rng) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for index in files:
            reader = self.readers[index]
            pieces = rng.permutation(reader.n_pieces) if rng is not None else None
            for X, y in reader.read(pieces, self.read_rows, self.dtype):
                self.largest_chunk = max(self.largest_chunk, len(X))
                if self.transform is not None:
                    X, y = self.transform(X, y if self.labelled else None)
                # Without a target, y travels through shuffling as a (rows, 0) array.
                yield X, (_no_target(len(X)) if y is None else y)


def _no_target(rows: int) -> np.ndarray:
    """The stand-in ``y`` of rows without a target: shape ``(rows, 0)``, no memory."""
    return np.empty((rows, 0), np.float32)


def _without_stand_in(batch):
    """``(X, None)`` for a batch whose ``y`` is the stand-in of :func:`_no_target` (a
    ``map`` may have given rows without a target one, e.g. an autoencoder's)."""
    X, y = batch
    return (X, None) if y.ndim == 2 and y.shape[1] == 0 else batch


class _KeepRows:
    """``(X, y) -> (X[keep], y[keep])`` with ``keep = test(X, y)`` (a class, so it pickles)."""

    def __init__(self, test):
        self.test = test

    def __call__(self, X, y):
        keep = np.asarray(self.test(X, y), dtype=bool)
        return X[keep], y[keep]


class _Then:
    """``second(*first(X, y))``: two ``map`` functions in a row (a class, so it pickles)."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def __call__(self, X, y):
        return self.second(*self.first(X, y))


# --------------------------------------------------------------------- shuffle, batches


SHUFFLE_ROUNDS = 8  # rounds per buffer's worth of rows: a row mixes with ~8 others' arrivals


def _shuffle_buffer(chunks, capacity: int, rng: np.random.Generator):
    """Blocks of rows in random order, mixing the chunks through a buffer of ``capacity``.

    While the buffer fills, nothing leaves. Once it is full, its slots are visited in a
    random order (a fresh permutation every ``capacity`` rows), ``capacity /
    SHUFFLE_ROUNDS`` at a time: the rows in those slots leave as one block and the next
    incoming rows take their places. A row waits between 0 and 2 buffer-lengths, and each
    block mixes rows that arrived at different times, in random order. (Drawing the
    slots of every round afresh would cost a permutation per round; one permutation per
    buffer-length is the same shuffle for a fraction of the price.) At the end the rest
    leaves, permuted.
    """
    X_buffer = y_buffer = None
    filled = 0
    round_size = max(1, capacity // SHUFFLE_ROUNDS)
    visit, visited = None, capacity  # this cycle's slot order, and how much of it is used
    for X, y in chunks:
        if X_buffer is None:
            X_buffer = np.empty((capacity, *X.shape[1:]), X.dtype)
            y_buffer = np.empty((capacity, *y.shape[1:]), y.dtype)
        elif not np.can_cast(y.dtype, y_buffer.dtype, "same_kind"):
            raise DataError(
                f"stream: the target holds {y.dtype} values in one file and {y_buffer.dtype} "
                "in another; give it one type in every file"
            )
        position = 0
        while position < len(X):
            if filled < capacity:
                take = min(capacity - filled, len(X) - position)
                X_buffer[filled : filled + take] = X[position : position + take]
                y_buffer[filled : filled + take] = y[position : position + take]
                filled += take
            else:
                if visited == capacity:
                    visit, visited = rng.permutation(capacity), 0
                take = min(round_size, capacity - visited, len(X) - position)
                slots = visit[visited : visited + take]
                visited += take
                yield X_buffer.take(slots, axis=0), y_buffer.take(slots, axis=0)
                X_buffer[slots] = X[position : position + take]
                y_buffer[slots] = y[position : position + take]
            position += take
    rest = rng.permutation(filled)
    for start in range(0, filled, round_size):  # small blocks: never a second buffer
        rows = rest[start : start + round_size]
        yield X_buffer.take(rows, axis=0), y_buffer.take(rows, axis=0)


def _rebatch(blocks, batch_size: int):
    """Cut a stream of ``(X, y)`` blocks of any sizes into batches of ``batch_size``
    rows (the last may be smaller). Slices are views; only batches that straddle two
    blocks are copied."""
    pending_X: list[np.ndarray] = []
    pending_y: list[np.ndarray] = []
    pending = 0
    for X, y in blocks:
        start = 0
        if pending:
            start = min(batch_size - pending, len(X))
            pending_X.append(X[:start])
            pending_y.append(y[:start])
            pending += start
            if pending < batch_size:
                continue
            yield np.concatenate(pending_X), np.concatenate(pending_y)
            pending_X, pending_y, pending = [], [], 0
        whole = start + (len(X) - start) // batch_size * batch_size
        for offset in range(start, whole, batch_size):
            yield X[offset : offset + batch_size], y[offset : offset + batch_size]
        if whole < len(X):
            pending_X, pending_y, pending = [X[whole:]], [y[whole:]], len(X) - whole
    if pending:
        yield np.concatenate(pending_X), np.concatenate(pending_y)


# --------------------------------------------------------------------- files


def _expand(path_or_paths) -> list:
    """The files to read: a folder's data files (sorted), or the paths given, checked.

    Local files come back as ``Path``, files in a store as
    :class:`~thalweg.data.filesystems.Location` (both have ``suffix`` and print safely).
    """
    items = [path_or_paths] if isinstance(path_or_paths, str | Path) else list(path_or_paths or [])
    if not items:
        raise FileFormatError("stream: no files given")
    paths: list = []
    for item in items:
        path = locate(item) if is_url(item) or isinstance(item, Location) else Path(item)
        if path.is_dir():
            if isinstance(path, Location):
                found = path.files(FORMATS)
            else:
                found = sorted(p for p in path.iterdir() if p.suffix.lower() in FORMATS)
            if not found:
                raise FileFormatError(
                    f"{path}: the folder holds no {'/'.join(FORMATS)} files to stream"
                )
            paths.extend(found)
        elif not path.exists():
            raise FileFormatError(f"{path}: no such file; check the path")
        elif path.suffix.lower() not in FORMATS:
            raise FileFormatError(
                f"{path}: cannot stream {path.suffix or 'files without a suffix'}; "
                f"use {', '.join(FORMATS)} files"
            )
        else:
            paths.append(path)
    return paths


def _feature_columns(path: Path, names: list[str], target: str | None, columns) -> list[str]:
    """Check the target and feature column names against the file's columns."""
    if target is not None and target not in names:
        raise DataError(f"{path}: no target column {target!r}; the columns are {names}")
    if columns is None:
        features = [name for name in names if name != target]
    else:
        features = [str(c) for c in columns]
        missing = [c for c in features if c not in names]
        if missing:
            raise DataError(f"{path}: no column(s) {missing}; the columns are {names}")
        if target in features:
            raise DataError(f"{path}: the target {target!r} is also listed in columns")
    if not features:
        raise DataError(f"{path}: no feature columns besides the target {target!r}")
    return features


def _read_columns(features: list[str], target: str | None) -> list[str]:
    return features if target is None else [*features, target]


def _check_numeric(path: Path, schema, features: list[str]) -> None:
    import pyarrow as pa

    for name in features:
        kind = schema.field(name).type
        if not (
            pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        ):
            raise DataError(
                f"{path}: column {name!r} holds {kind}, not numbers; leave it out with "
                "columns=[...] or encode it as numbers first"
            )


def _arrow_to_numpy(path: Path, batch, features: list[str], target: str | None, dtype):
    """One Arrow record batch -> ``X`` (rows, features) of ``dtype`` and ``y`` (rows,)
    (None without a target)."""
    import pyarrow as pa

    for name in _read_columns(features, target):
        if batch.column(name).null_count:
            raise DataError(
                f"{path}: column {name!r} has missing values; drop or impute them first"
            )
    table = batch.select(features)
    if any(pa.types.is_boolean(field.type) for field in table.schema):
        table = table.cast(pa.schema([(f.name, pa.float64()) for f in table.schema]))
    # One call turns the columns into a row-major matrix (in C++, common type).
    X = np.asarray(table.to_tensor(row_major=True)).astype(dtype, copy=False)
    y = None if target is None else batch.column(target).to_numpy(zero_copy_only=False)
    return X, y


class _ParquetReader:
    """A Parquet file: its row groups are the pieces; each is read ``read_rows`` at a time."""

    def __init__(self, path: Path, target: str | None, columns):
        import pyarrow.parquet as pq

        try:
            with open_for_reading(path) as source:
                metadata = pq.read_metadata(source)
        except (DataError, FileFormatError):
            raise
        except Exception as error:  # pyarrow raises its own types for a damaged file
            raise FileFormatError(f"{path}: not a readable Parquet file ({error})") from None
        schema = metadata.schema.to_arrow_schema()
        self.path, self.target, self.labelled = path, target, target is not None
        self.feature_names = _feature_columns(path, schema.names, target, columns)
        _check_numeric(path, schema, self.feature_names)
        self.n_features = len(self.feature_names)
        self.n_rows = metadata.num_rows
        self.n_pieces = metadata.num_row_groups

    def read(self, pieces, read_rows: int, dtype):
        import pyarrow.parquet as pq

        order = range(self.n_pieces) if pieces is None else pieces
        with open_for_reading(self.path) as source, pq.ParquetFile(source) as file:
            for group in order:
                for batch in file.iter_batches(
                    batch_size=read_rows,
                    row_groups=[int(group)],
                    columns=_read_columns(self.feature_names, self.target),
                    # One thread: the stream already runs beside the trainer (fit_stream
                    # reads in a background thread); Arrow's pool would compete for cores.
                    use_threads=False,
                ):
                    yield _arrow_to_numpy(self.path, batch, self.feature_names, self.target, dtype)


class _CsvReader:
    """A CSV file, read front to back a block at a time by pyarrow's streaming reader."""

    n_rows = None  # unknown without reading the whole file
    n_pieces = 1

    def __init__(self, path: Path, target: str | None, columns):
        import pyarrow as pa
        from pyarrow import csv

        try:
            # Column types are inferred from the first block; they are then fixed, so a
            # later block cannot change a column's type silently.
            read_options = csv.ReadOptions(block_size=CSV_BLOCK_BYTES)
            with (
                open_for_reading(path, random_access=False) as source,
                csv.open_csv(source, read_options=read_options) as reader,
            ):
                schema = reader.schema
        except pa.ArrowInvalid as error:
            raise FileFormatError(f"{path}: not a readable CSV file ({error})") from None
        self.path, self.target, self.labelled = path, target, target is not None
        self.feature_names = _feature_columns(path, schema.names, target, columns)
        _check_numeric(path, schema, self.feature_names)
        self.n_features = len(self.feature_names)
        self.column_types = {name: pa.float64() for name in self.feature_names}
        if target is not None:
            self.column_types[target] = schema.field(target).type

    def read(self, pieces, read_rows: int, dtype):
        with open_for_reading(self.path, random_access=False) as source:
            yield from self._read_csv(source, read_rows, dtype)

    def _read_csv(self, source, read_rows: int, dtype):
        import pyarrow as pa
        from pyarrow import csv

        reader = csv.open_csv(
            source,
            read_options=csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=csv.ConvertOptions(
                include_columns=_read_columns(self.feature_names, self.target),
                column_types=self.column_types,
            ),
        )
        with reader:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid as error:
                    raise DataError(
                        f"{self.path}: {error}; every feature value must be a number, and "
                        f"the target {self.target!r} keeps the type of its first rows"
                    ) from None
                for start in range(0, batch.num_rows, read_rows):
                    part = batch.slice(start, read_rows)
                    yield _arrow_to_numpy(self.path, part, self.feature_names, self.target, dtype)


def _npy_readers(paths: list[Path], target, columns, piece_rows: int) -> list:
    if target is None:
        return [_NpyReader(path, None, None, columns, piece_rows) for path in paths]
    if isinstance(target, int | np.integer):
        return [_NpyReader(path, int(target), None, columns, piece_rows) for path in paths]
    targets = [target] if isinstance(target, str | Path) else list(target or [])
    if not targets or not all(isinstance(t, str | Path) for t in targets):
        raise DataError(
            "stream: for .npy files, target is a column index (int) or the .npy file(s) "
            f"holding y, one per feature file; got {target!r}"
        )
    target_paths = _expand(targets)
    if len(target_paths) != len(paths):
        raise DataError(
            f"stream: {len(paths)} feature file(s) but {len(target_paths)} target file(s); "
            "give one target .npy per feature .npy, in the same order"
        )
    return [
        _NpyReader(p, None, t, columns, piece_rows)
        for p, t in zip(paths, target_paths, strict=True)
    ]


@contextlib.contextmanager
def _binary(source):
    """A local path opened for reading bytes, or a store's open file as it is."""
    if isinstance(source, str):
        with open(source, "rb") as handle:
            yield handle
    else:
        yield source


def _npy_header(path: Path) -> tuple[tuple, np.dtype, int]:
    """Shape, dtype and data offset of a ``.npy`` file (the header is parsed, not run)."""
    with open_for_reading(path) as source, _binary(source) as handle:
        try:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        except ValueError as error:
            raise FileFormatError(f"{path}: not a readable .npy file ({error})") from None
        offset = handle.tell()
    if dtype.kind not in "biuf":
        raise DataError(f"{path}: holds {dtype} values; a stream needs numbers")
    if fortran and len(shape) > 1:
        raise DataError(
            f"{path}: is stored column by column (Fortran order); save it row by row with "
            "np.save(path, np.ascontiguousarray(X))"
        )
    return shape, dtype, offset


class _NpyReader:
    """A ``.npy`` file, mapped ``read_rows`` rows at a time.

    Each piece maps only its own rows and unmaps them after the copy: a mapping of the
    whole file would count every page read so far in the resident memory until the
    kernel wants the memory back.
    """

    def __init__(self, path: Path, target_column: int | None, target_path, columns, piece_rows):
        shape, self.dtype, self.offset = _npy_header(path)
        if len(shape) != 2:
            raise DataError(f"{path}: expected a 2-D array (n_rows, n_columns), got {shape}")
        self.path, self.n_rows, self.width = path, int(shape[0]), int(shape[1])
        self.target_column, self.target_path = target_column, target_path
        self.labelled = target_column is not None or target_path is not None
        if target_column is not None and not -self.width <= target_column < self.width:
            raise DataError(
                f"{path}: target column {target_column} is out of range; the array has "
                f"{self.width} columns"
            )
        if target_column is not None:
            target_column %= self.width
            self.target_column = target_column
        if columns is None:
            features = [j for j in range(self.width) if j != target_column]
        else:
            features = [int(j) % self.width for j in columns]
            if target_column in features:
                raise DataError(f"{path}: the target column {target_column} is also in columns")
        if not features:
            raise DataError(f"{path}: no feature columns besides the target")
        self.features = features
        self.feature_names = None
        self.n_features = len(features)
        if target_path is not None:
            y_shape, self.y_dtype, self.y_offset = _npy_header(target_path)
            if len(y_shape) not in (1, 2) or (len(y_shape) == 2 and y_shape[1] != 1):
                raise DataError(f"{target_path}: y must have shape (n_rows,), got {y_shape}")
            if y_shape[0] != self.n_rows:
                raise DataError(
                    f"{target_path} has {y_shape[0]} rows but {path} has {self.n_rows}; "
                    "they must match"
                )
        self.piece_rows = int(piece_rows)
        self.n_pieces = max(1, -(-self.n_rows // self.piece_rows))

    def read(self, pieces, read_rows: int, dtype):
        order = range(self.n_pieces) if pieces is None else pieces
        every_column = self.features == list(range(self.width))
        for piece in order:
            start = int(piece) * self.piece_rows
            stop = min(start + self.piece_rows, self.n_rows)
            if stop <= start:
                continue
            block = self._map(self.path, self.dtype, self.offset, start, stop, (self.width,))
            X = np.array(block if every_column else block[:, self.features], dtype=dtype)
            if not self.labelled:
                y = None
            elif self.target_column is not None:
                y = np.array(block[:, self.target_column])
            else:
                y = np.array(self._map(self.target_path, self.y_dtype, self.y_offset, start, stop))
                y = y.reshape(-1)
            del block  # unmap
            yield X, y

    @staticmethod
    def _map(path, dtype, offset, start, stop, row_shape=()):
        row_bytes = dtype.itemsize * int(np.prod(row_shape, dtype=np.int64))
        if isinstance(path, Location):  # a store: one ranged read of these rows
            with path.open_input_file() as handle:
                handle.seek(offset + start * row_bytes)
                data = handle.read((stop - start) * row_bytes)
            return np.frombuffer(data, dtype=dtype).reshape(stop - start, *row_shape)
        return np.memmap(
            path,
            dtype=dtype,
            mode="r",
            offset=offset + start * row_bytes,
            shape=(stop - start, *row_shape),
        )
