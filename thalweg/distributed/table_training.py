"""A training run on a table held by a Dask cluster (``thalweg train --dask``).

As :func:`thalweg.models.table_training.train_stream`, on partitions instead of a
stream's chunks: one pass on the workers (the survey) counts the rows of each part
(held out by row, per partition, reproducibly) and learns what the target holds; then
:func:`thalweg.distributed.fit` on the training rows; then the test rows (all, or a
uniform sample of bounded size) are measured on the driver.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from glob import glob

import numpy as np

from thalweg.data.filesystems import is_url, locate, redact
from thalweg.data.holdout import (
    TEST,
    TRAIN,
    RowSplit,
    TargetSurvey,
    as_labels,
    held_out_sample_size,
    keep_part,
)
from thalweg.data.schema import dtype_kind
from thalweg.errors import FileFormatError
from thalweg.models.auto import TrainOptions, build_estimator, plan_from_survey
from thalweg.models.table_training import (
    TrainResult,
    held_out_table,
    numeric_features,
    numeric_summary,
    require_test_rows,
    rows_line,
    three_parts,
)
from thalweg.models.tabular import TabularModel

__all__ = ["train_on_cluster"]


def train_on_cluster(
    data,
    options: TrainOptions,
    *,
    verbose: int = 0,
    on_line: Callable[[str], None] = lambda line: None,
) -> TrainResult:
    """Survey the partitions of ``data`` (a Parquet or CSV file, folder or glob; local or
    a URL such as ``s3://bucket/data/``, which each worker reads itself) on the cluster
    ``options.dask``, train there on the training rows, measure the test rows.
    """
    from thalweg import distributed

    distributed.parse_spec(options.dask)  # a malformed spec fails before anything starts
    _check_exists(data)
    frame = distributed.read_table(str(data))
    kinds = {name: dtype_kind(dtype) for name, dtype in frame.dtypes.items()}
    features = numeric_features(kinds, options)
    frame = frame[[*features, options.target]]
    fractions = three_parts(options.fractions())
    split = RowSplit(fractions, options.seed)

    with distributed.connect(options.dask) as client:
        workers = len(client.scheduler_info()["workers"])
        survey, counts = _survey_partitions(frame, features, options.target, split)
        plan = plan_from_survey(options, survey)
        require_test_rows(counts)
        classify = plan.task == "classification"
        on_line(plan.describe())
        on_line(rows_line(counts, 2))
        on_line(f"cluster: {options.dask} ({workers} worker{'s' if workers != 1 else ''})")

        estimator = build_estimator(plan, options, verbose)
        train_split = RowSplit(fractions, options.seed, TRAIN)
        train_rows = _keep(frame, features, options.target, train_split, classify=classify)
        solver = options.dask_solver()
        started = time.perf_counter()
        distributed.fit(
            estimator,
            train_rows,
            target=options.target,
            client=client,
            solver=solver,
            batch_size=options.batch_size if solver == "sgd" else None,
        )
        seconds = time.perf_counter() - started

        # The test rows: all of them, or a uniform sample of held_out_sample_size() when more.
        wanted = min(1.0, held_out_sample_size(len(features)) / max(int(counts[TEST]), 1))
        test_split = RowSplit(fractions, options.seed, TEST)
        test_frame = _keep(frame, features, options.target, test_split, wanted, classify)
        test_frame = test_frame.compute()

    model = TabularModel.from_fitted(estimator, features, target=options.target)
    test_rows = held_out_table(test_frame[features].to_numpy(dtype=np.float64), features)
    labels = as_labels(test_frame[options.target].to_numpy(), classify)
    split_counts = {"train": int(counts[TRAIN]), "test": int(counts[TEST])}
    held_out = {
        "method": "by row, drawn per Dask partition (reproducible; see docs/cli.md)",
        "fractions": list(options.fractions()),
        "test_rows": int(counts[TEST]),
        "test_rows_scored": len(labels),
        "solver": solver,
        "workers": workers,
    }
    return TrainResult(
        model=model,
        plan=plan,
        test=model.evaluate(test_rows, labels),
        summary=numeric_summary(redact(str(data)), features, options, split_counts),
        seconds=seconds,
        parts={"test": (test_rows, labels)},
        target_values=labels,
        options=options,
        held_out=held_out,
    )


def _check_exists(data) -> None:
    """Fail at once, in one line, when ``data`` (a path, a glob or a URL) names nothing."""
    if is_url(str(data)):
        location = locate(str(data))
        if any(c in location.path for c in "*?["):
            # file:// URLs are read by pyarrow's local filesystem (no fsspec one)
            found = (location.fsspec.glob if location.fsspec else glob)(location.path)
        else:
            found = location.exists()
        if not found:
            raise FileFormatError(f"{location}: no such file, folder or glob match; check the URL")
        return
    if not glob(str(data)):
        raise FileFormatError(f"{data}: no such file, folder or glob match; check the path")


def _keep(frame, features, target, split: RowSplit, fraction: float = 1.0, classify=False):
    """The lazy frame of the rows of ``split.part`` (see :func:`holdout.keep_part`)."""
    import pandas as pd

    empty = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in frame.dtypes.items()})
    meta = keep_part(empty, features, target, split, classify=classify)  # columns and types
    return frame.map_partitions(keep_part, features, target, split, fraction, classify, meta=meta)


def _survey_partitions(frame, features, target, split: RowSplit):
    """The survey, one task per partition on the workers; merged here."""
    import dask

    from thalweg.data.holdout import survey_partition

    parts = frame.to_delayed()
    results = dask.compute(
        *[dask.delayed(survey_partition)(p, features, target, split) for p in parts]
    )
    survey, counts = TargetSurvey(), np.zeros(3, dtype=np.int64)
    for part_survey, part_counts in results:
        survey = survey.merge(part_survey)
        counts += part_counts
    return survey, counts
