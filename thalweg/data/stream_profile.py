"""How fast a stream's input makes batches, with no model, and what to change.

:func:`profile_stream` reads batches exactly as streamed training does
(:func:`thalweg.data.stream`: pieces in a random order, a shuffle buffer, batches of
``batch_size``), with no model, and measures them with
:func:`thalweg.data.profile_input`: examples per second, the time between two batches,
and ``T_g`` (seconds of input work per example), ``C`` (workers) and ``B`` (batch size)
of the balance ``T_g·B/C ≤ T_step``. :func:`advice` turns the measurement and how the
files are stored (:func:`layout`) into sentences (``thalweg profile-input`` prints them).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from thalweg.data.filesystems import open_for_reading, redact
from thalweg.data.pipeline import InputProfile, format_duration

BUFFERS_MEASURED = 8  # read this many buffers' worth of rows, so filling one is amortized


@dataclass
class Layout:
    """How the files are stored, as far as reading speed and shuffling go."""

    kind: str  # "parquet" or "csv"
    files: int
    rows: int | None  # None for CSV (unknown without reading it)
    row_groups: int | None
    largest_row_group: int | None
    compression: str | None  # Parquet codec of the first column chunk, e.g. "SNAPPY"
    dictionary: bool  # Parquet dictionary encoding on any column chunk


def layout(files: list[Path]) -> Layout:
    """Read the Parquet footers (cheap) or note that the files are CSV."""
    if files[0].suffix.lower() == ".csv":
        return Layout("csv", len(files), None, None, None, None, False)
    import pyarrow.parquet as pq

    rows = groups = largest = 0
    codecs, dictionary = set(), False
    for path in files:
        with open_for_reading(path) as source:
            metadata = pq.read_metadata(source)
        rows += metadata.num_rows
        groups += metadata.num_row_groups
        for index in range(metadata.num_row_groups):
            group = metadata.row_group(index)
            largest = max(largest, group.num_rows)
            for column in range(group.num_columns):
                chunk = group.column(column)
                codecs.add(chunk.compression)
                dictionary |= any("DICTIONARY" in e for e in chunk.encodings)
    codec = "/".join(sorted(codecs)) or None
    return Layout("parquet", len(files), rows, groups, largest, codec, dictionary)


def default_batches(batch_size: int, buffer: int) -> int:
    """Enough batches that filling the shuffle buffer (the first batch waits for it) is
    a small part of the measurement."""
    return max(50, math.ceil(BUFFERS_MEASURED * buffer / batch_size))


def profile_stream(
    files: list[Path],
    target,
    columns: list,
    *,
    batch_size: int,
    shuffle_buffer: int,
    batches: int | None = None,
    seed: int = 0,
) -> tuple[InputProfile, Layout, list[str]]:
    """Measure streamed training's input on ``files``; return the profile, the files'
    layout, and advice (see the module docstring)."""
    from thalweg.data import profile_input, stream

    source = stream(
        files,
        target=target,
        columns=columns,
        batch_size=batch_size,
        shuffle_buffer=shuffle_buffer,
        seed=seed,
    )
    stored = layout(files)
    # One row first, so that one-time costs (imports, opening the file) are not counted as
    # reading: they are paid once per run, not once per row.
    warm_up = stream(files[0], target=target, columns=columns, batch_size=1, shuffle_buffer=0)
    next(iter(warm_up), None)
    batches = batches or default_batches(batch_size, shuffle_buffer)
    measured = profile_input(source, batches=batches, seed=seed)
    return measured, stored, advice(measured, stored, shuffle_buffer, len(columns))


def batch_seconds(measured: InputProfile) -> float:
    """Seconds per batch on average: ``T_g·B/C`` as measured at the consumer.

    (The stream hands out rows in bursts, a shuffle-buffer round at a time, so the median
    gap between two batches, ``measured.batch_seconds``, is much shorter than the mean.)
    """
    if not measured.examples:
        return math.nan
    return measured.seconds / measured.examples * (measured.batch_size or 1)


def describe(measured: InputProfile) -> list[str]:
    """The measurement: rows/s, the time per batch, ``T_g``, ``C``, ``B``."""
    lines = [
        f"input: {measured.examples:,} rows in {measured.batches} batches of B = "
        f"{measured.batch_size}, {format_duration(measured.seconds)}: "
        f"{measured.examples_per_second:,.0f} rows/s, a batch every "
        f"{format_duration(batch_seconds(measured))} on average"
    ]
    if measured.example_seconds is not None:
        per_batch = measured.example_seconds * (measured.batch_size or 1) / measured.workers
        lines.append(
            f"  T_g = {format_duration(measured.example_seconds)} per row, C = "
            f"{measured.workers} (reading in one process), B = {measured.batch_size}: "
            f"T_g·B/C = {format_duration(per_batch)} per batch"
        )
    return lines


def advice(measured: InputProfile, stored: Layout, buffer: int, columns: int) -> list[str]:
    """What the numbers mean and what to change, one sentence each."""
    tips = [
        f"training never waits for this input if a step on {measured.batch_size} rows takes "
        f"longer than {format_duration(batch_seconds(measured))} (T_step > T_g·B/C); streamed "
        "training (stream=True) measures its step and prints this balance at the end"
    ]
    if stored.rows and measured.examples_per_second > 0:
        epoch = stored.rows / measured.examples_per_second
        tips.append(f"reading one epoch of {stored.rows:,} rows takes about {_seconds(epoch)}")
    if stored.kind == "csv":
        tips.append(
            "CSV is parsed again every epoch and read front to back: convert it to Parquet "
            "once (faster to read, and its row groups are visited in a new order every epoch)"
        )
        return tips
    if stored.compression not in (None, "UNCOMPRESSED") or stored.dictionary:
        how = [stored.compression.lower()] if stored.compression != "UNCOMPRESSED" else []
        how += ["dictionary-encoded"] if stored.dictionary else []
        tips.append(
            f"the file is {' and '.join(how)}: every epoch pays to decode it; for data read "
            "many times whose values rarely repeat, write it with compression='none' and "
            "use_dictionary=False (pyarrow)"
        )
    if stored.row_groups == 1:
        tips.append(
            "the data is one row group, read in the same order every epoch; only the shuffle "
            "buffer mixes rows: write it in smaller row groups (e.g. row_group_size=65536)"
        )
    elif stored.largest_row_group and buffer < stored.largest_row_group:
        tips.append(
            f"rows mix within about {buffer:,} rows (the shuffle buffer) while a row "
            f"group holds up to {stored.largest_row_group:,}: if the file is sorted (by time, "
            "by label), raise the shuffle buffer (shuffle_buffer=) or write smaller row groups"
        )
    if columns > 1 and measured.example_seconds is not None:
        tips.append(
            f"reading costs about {format_duration(measured.example_seconds / columns)} per "
            f"value ({columns} feature columns): leave out (ignore=) the columns the model "
            "does not need"
        )
    return tips


def _seconds(seconds: float) -> str:
    if seconds < 120:
        return format_duration(seconds)
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def as_json(measured: InputProfile, stored: Layout, tips: list[str], data: Path) -> dict:
    """The measurement, the layout and the advice as JSON-able data."""
    return {
        "command": "profile-input",  # what thalweg profile-input --json prints
        "data": redact(str(data)),  # a URL without its password or signed query
        "profile": asdict(measured),
        "layout": asdict(stored),
        "advice": tips,
    }
