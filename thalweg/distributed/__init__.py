"""Layer 5: data-parallel training on a Dask cluster (optional: ``pip install "thalweg[dask]"``).

Least squares needs all the rows in one memory; gradient descent only needs the gradient,
and the gradient of a mean over rows is a sum over any split of the rows. So the rows
can stay spread over many machines: each step, every worker computes the loss and
gradient of *its* rows with thalweg's engine, the driver adds them up and takes one
optimizer step, and the new weights go back out. Read ``training.py`` for that loop,
``worker.py`` for what the workers run, ``data.py`` for how the rows get there.

>>> from thalweg.distributed import connect, fit, read_table    # doctest: +SKIP
>>> with connect("local:2") as client:                           # doctest: +SKIP
...     frame = read_table("data/")                              # a folder of Parquet files
...     model = fit(LogisticRegression(), frame, target="label", client=client)

Importing this package does not import Dask; the functions that need it do.
"""

from thalweg.distributed.cluster import (
    ClusterError,
    ClusterSpec,
    DaskNotInstalled,
    connect,
    parse_spec,
)
from thalweg.distributed.data import combine_moments, read_table
from thalweg.distributed.training import (
    SMALL_DATA_WORK,
    SmallDataWarning,
    fit,
    small_data_message,
)

__all__ = [
    "SMALL_DATA_WORK",
    "ClusterError",
    "ClusterSpec",
    "DaskNotInstalled",
    "SmallDataWarning",
    "combine_moments",
    "connect",
    "fit",
    "parse_spec",
    "read_table",
    "small_data_message",
]
