"""Option values that need more than a type: parsed once, with a one-line error each.

Each function is a Typer option callback: it receives the text the user typed and
returns the parsed value, or raises ``typer.BadParameter``, which the command line
prints as ``error: Invalid value for '--hidden': ... (see 'thalweg train --help')``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import typer


def hidden_layers(value: str | None) -> tuple[int, ...] | None:
    """``"8,2"`` -> ``(8, 2)``: the width of each hidden layer."""
    if value is None:
        return None
    try:
        widths = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a list of layer widths; write them like 8,2"
        ) from None
    if not widths or any(w < 1 for w in widths):
        raise typer.BadParameter(f"{value!r}: every layer needs at least 1 unit, e.g. 8,2")
    return widths


def split_fractions(value: str | None) -> tuple[float, ...] | None:
    """``"0.6,0.2,0.2"`` -> train, validation, test fractions (or two: train, test);
    None (not given) -> None: the command picks its default."""
    if value is None:
        return None
    try:
        fractions = tuple(float(part) for part in value.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a list of fractions; write train,validation,test like 0.6,0.2,0.2"
        ) from None
    if len(fractions) not in (2, 3):
        raise typer.BadParameter(
            f"{value!r} has {len(fractions)} parts; give train,validation,test (0.6,0.2,0.2) "
            "or train,test (0.8,0.2)"
        )
    if not all(math.isfinite(f) and 0 < f < 1 for f in fractions):
        raise typer.BadParameter(f"{value!r}: each fraction must be between 0 and 1")
    if abs(sum(fractions) - 1) > 1e-6:
        raise typer.BadParameter(f"{value!r} adds up to {sum(fractions):g}; it must add up to 1")
    return fractions


def column_names(value: str | None) -> tuple[str, ...]:
    """``"city,zip"`` -> ``("city", "zip")``."""
    if not value:
        return ()
    names = tuple(part.strip() for part in value.split(","))
    if any(not name for name in names):
        raise typer.BadParameter(f"{value!r} has an empty column name; write names like city,zip")
    return names


def batch_size(value: str | None) -> int | str | None:
    """``"32"`` -> 32; ``"full"`` -> every row in each step; None -> the model's default."""
    if value is None or value == "full":
        return value
    try:
        size = int(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a batch size; give a number of rows (e.g. 32) or 'full'"
        ) from None
    if size < 1:
        raise typer.BadParameter(f"{value!r}: a batch needs at least 1 row (or use 'full')")
    return size


def learning_rate(value: float | None) -> float | None:
    """A positive, finite step size (None: the model's automatic choice)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"{value!r}: the learning rate must be a positive number")
    return value


def penalty(value: float | None) -> float | None:
    """A non-negative, finite penalty strength (None: the model's default)."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(f"{value!r}: a penalty must be 0 or a positive number")
    return value


def min_frequency(value: str | int | float) -> int | float:
    """A category's fewest training rows (a whole number ≥ 1) or share of them (0 to 1)."""
    if isinstance(value, int | float):  # the default, already parsed
        return value
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if number >= 1 and number.is_integer():
        return int(number)
    if 0 < number < 1:
        return number
    raise typer.BadParameter(
        f"{value!r}: give a whole number of rows (e.g. 5; 1 keeps every category) or a "
        "share of the rows below 1 (e.g. 0.01)"
    )


def threshold(value: float | None) -> float | None:
    """A decision threshold on a probability: a number from 0 to 1 (None: the model's)."""
    if value is not None and not (math.isfinite(value) and 0 <= value <= 1):
        raise typer.BadParameter(f"{value!r}: a threshold is a probability, from 0 to 1 (e.g. 0.3)")
    return value


class DataUrl(str):
    """A data argument that is a URL (``s3://...``): the full text, for reading only.

    ``name`` is the file name; ``shown`` the redacted URL for messages and model files
    (no password, no signed query).
    """

    @property
    def name(self) -> str:
        from pathlib import PurePosixPath
        from urllib.parse import urlsplit

        return PurePosixPath(urlsplit(self).path).name or str(self.shown)

    @property
    def shown(self) -> str:
        from thalweg.data.filesystems import redact

        return redact(self)


def data_path(value: str | None):
    """A local path (``Path``) or a URL (:class:`DataUrl`: ``s3://``, ``gs://``, ``az://``,
    ``hdfs://``, ``https://``)."""
    if value is None:
        return None
    from thalweg.data.filesystems import is_url

    return DataUrl(value) if is_url(value) else Path(value)


def shown(data) -> str:
    """How a data argument appears in output and model files (URLs redacted)."""
    return data.shown if isinstance(data, DataUrl) else str(data)


def image_size(value: str | None) -> tuple[int, int] | None:
    """``"25"`` -> (25, 25); ``"32,48"`` -> (32, 48) (height, width); None -> None."""
    if value is None:
        return None
    try:
        sizes = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise typer.BadParameter(f"--size {value!r}: give H,W in pixels, e.g. 32,32") from None
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or min(sizes) < 1:
        raise typer.BadParameter(f"--size {value!r}: give H,W in pixels, e.g. 32,32")
    return sizes


def layer_specs(value: str | None) -> tuple[str, ...] | None:
    """``"conv16,pool,dense64"`` -> the CNN's layers; None -> the default."""
    if value is None:
        return None
    from thalweg.models.cnn import parse_layer

    specs = tuple(part.strip() for part in value.split(",") if part.strip())
    if not specs:
        raise typer.BadParameter("--layers is empty; e.g. conv16,pool,conv32,pool,dense64")
    for spec in specs:
        try:
            parse_layer(spec)
        except ValueError as error:
            raise typer.BadParameter(str(error).replace("layers=", "--layers")) from None
    return specs


def augmentations(value: str) -> str:
    """``default``, ``robust``, ``none`` or names like ``flip,rotate``: checked here."""
    from thalweg.data.augment import Augmenter

    try:
        Augmenter(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return value


def workers(value: int) -> int:
    """``--workers``: decoding processes, 0 (this one) up to a sane number."""
    from thalweg.data.pipeline import MAX_WORKERS

    if value > MAX_WORKERS:
        raise typer.BadParameter(
            f"{value}: at most {MAX_WORKERS} processes (this machine has {os.cpu_count()} "
            "cores); give fewer"
        )
    return value
