"""``thalweg cluster``: k-means on the columns of a table, a model file, and a report.

The work is :func:`thalweg.models.table_clustering.cluster_table`'s (columns prepared as
for ``thalweg train``, then standardized; one k, or the best of a range by silhouette)
and :func:`thalweg.report.clustering.cluster_report`'s; this module parses ``--k``,
prints the choice and the cluster sizes, and writes the files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from thalweg.cli import options as parse
from thalweg.cli.common import (
    CATEGORICAL,
    ENCODING,
    JSON,
    KEEP,
    QUIET,
    check_paths,
    command_line,
    example,
    writing,
)
from thalweg.cli.main import EXIT_OK

Algorithm = Literal["lloyd", "minibatch"]
Missing = Literal["error", "drop", "mean"]
Unknown = Literal["other", "error"]
View = Literal["pca", "autoencoder"]

MAX_K = 100  # the largest k a range may ask for (each k is a fit)


def register(app: typer.Typer) -> None:
    app.command(
        epilog=example(
            "thalweg datasets export wine wine.csv",
            "thalweg cluster wine.csv --ignore target --k 3",
            "thalweg cluster wine.csv --ignore target --k 2..10 --report clusters.html",
            "thalweg predict clusters.thalweg wine.csv -o clusters.csv",
        )
    )(cluster)


def k_values(value: str) -> tuple[int, ...]:
    """``"3"`` -> ``(3,)``; ``"2..10"`` -> ``(2, 3, …, 10)`` (both ends included)."""
    text = value.strip()
    try:
        if ".." in text:
            low, high = (int(part) for part in text.split(".."))
            if not 2 <= low < high <= MAX_K:
                raise typer.BadParameter(
                    f"{value!r}: a range goes from at least 2 up to a larger k (at most "
                    f"{MAX_K}), e.g. 2..10"
                )
            return tuple(range(low, high + 1))
        k = int(text)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a number of clusters; give one (3) or a range (2..10)"
        ) from None
    if not 1 <= k <= 10_000:
        raise typer.BadParameter(f"{value!r}: the number of clusters must be between 1 and 10000")
    return (k,)


def cluster(
    data: Annotated[
        str,
        typer.Argument(
            callback=parse.data_path,
            help="CSV, Parquet or NPZ file (or an s3://, gs://, https://... URL), one row per "
            "example.",
        ),
    ],
    k: Annotated[
        str,
        typer.Option(
            "--k",
            "-k",
            callback=k_values,
            help="Clusters: a number (3), or a range (2..10) to fit each k and pick the best "
            "by silhouette, showing the elbow and silhouette curves.",
        ),
    ] = "2..10",
    ignore: Annotated[
        str | None,
        typer.Option(
            callback=parse.column_names,
            help="Columns to leave out, e.g. id,target (a label you want to compare with).",
        ),
    ] = None,
    categorical: Annotated[str | None, CATEGORICAL] = None,
    keep: Annotated[str | None, KEEP] = None,
    missing: Annotated[
        Missing,
        typer.Option(
            help="Missing values: error (list them), drop (skip those rows), mean (fill in "
            "means; most frequent value for categories)."
        ),
    ] = "error",
    unknown: Annotated[
        Unknown,
        typer.Option(help="A category unseen when clustering, at predict time: other or error."),
    ] = "other",
    algorithm: Annotated[
        Algorithm,
        typer.Option(
            help="lloyd (exact rounds) or minibatch (SGD on random batches, for big data)."
        ),
    ] = "lloyd",
    view: Annotated[
        View,
        typer.Option(
            help="The report's 2-D picture: pca (first two principal components) or "
            "autoencoder (a 2-D code trained on the rows)."
        ),
    ] = "pca",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the k-means++ seeds and samples.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")] = Path(
        "clusters.thalweg"
    ),
    report: Annotated[Path | None, typer.Option(help="HTML report to write.")] = None,
    encoding: Annotated[str, ENCODING] = "utf-8",
    quiet: Annotated[bool, QUIET] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Group the rows of a table into clusters (k-means) and write the model to one file.

    Columns are prepared as for 'thalweg train' (text one-hot encoded, the --missing
    policy) and standardized, so every column counts alike. With a range of k, each k is
    fitted and the one with the highest silhouette is chosen (on a sample of 5,000 rows
    for bigger data: the silhouette costs n² distances). 'thalweg predict' on the model
    file gives each row its cluster.
    """
    from thalweg.cli.display import Output
    from thalweg.cli.recording import record_metrics
    from thalweg.files import write_together
    from thalweg.io import read_table
    from thalweg.models.table_clustering import cluster_table

    ks = k  # parsed by k_values: (k,) or the range
    check_paths({"--out": out, "--report": report}, {"the data file": data})
    output = Output(quiet=quiet, json_mode=json_output)
    table = read_table(data, encoding)

    def progress(k_fitted: int, model) -> None:
        output.line(f"k={k_fitted}: inertia {model.inertia_:.6g}")

    result = cluster_table(
        table,
        k=ks[0] if len(ks) == 1 else None,
        ks=ks if len(ks) > 1 else None,
        ignore=ignore or (),
        categorical=categorical or (),
        keep=keep or (),
        missing=missing,
        unknown=unknown,
        algorithm=algorithm,
        random_state=seed,
        on_fit=progress,
    )
    record_metrics(result.metrics())  # on the run of thalweg runs, when recorded
    summary = result.summary
    dropped = f" ({summary['dropped_rows']:,} with missing values left out)"
    output.line(
        f"clustered {summary['rows'] - summary['dropped_rows']:,} rows of {parse.shown(data)}"
        + (dropped if summary["dropped_rows"] else "")
        + f" on {len(summary['features'])} features, standardized"
    )
    if result.selection is not None:
        output.line(f"chose k={result.k}: {result.selection.reason}")
    total = int(result.sizes.sum())
    output.table(
        f"{result.k} clusters (inertia {result.model.estimator_.inertia_:.6g}, "
        f"silhouette {result.silhouette:.3f})",
        ["cluster", "rows", "share"],
        [
            [str(index), f"{size:,}", f"{size / total:.1%}"]
            for index, size in enumerate(result.sizes.tolist())
        ],
    )
    written = {}
    command = command_line()  # URLs redacted: no password or signed query in the file
    built = None
    if report is not None:  # built before anything is written: if it fails, nothing is
        from thalweg.report.clustering import cluster_report

        built = cluster_report(
            result,
            title=f"{data.name}: {result.k} clusters",
            source=parse.shown(data),
            view=view,
            random_state=seed,
        )
    with write_together():  # the model and the report: both, or neither
        with writing(out, "--out", "the model"):
            result.save(out, command)
        written["model"] = out
        if built is not None:
            written["report"] = _write_report(report, built)
    output.written(written)
    output.json(
        {
            "command": "cluster",
            "data": parse.shown(data),
            **result.record(command),
            "written": written,
        }
    )
    return EXIT_OK


def _write_report(path: Path, built) -> Path:
    from thalweg.report.clustering import write_cluster_report

    with writing(path, "--report", "the report"):
        return write_cluster_report(path, built)
