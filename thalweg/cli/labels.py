"""``thalweg labels RATINGS.csv --method majority|two-rater|dawid-skene -o LABELS.csv``:
one label per item from several raters' ratings, and how much the raters agree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from thalweg.cli.main import EXIT_OK, UserError

Method = Literal["majority", "two-rater", "dawid-skene"]
EXAMPLE = (
    "Example:\n\n  $ thalweg labels ratings.csv --method two-rater -o labels.csv\n\n"
    "  $ thalweg labels votes.csv --method dawid-skene --item image --rater worker "
    "--label answer -o labels.csv --json"
)


def register(app: typer.Typer) -> None:
    app.command(epilog=EXAMPLE)(labels)


def labels(
    ratings_file: Annotated[
        Path,
        typer.Argument(metavar="RATINGS", help="CSV (or Parquet) file: one row per rating."),
    ],
    method: Annotated[
        Method,
        typer.Option(
            help="majority: most votes (ties undecided); two-rater: keep agreements of the "
            "first two ratings, list disagreements; dawid-skene: EM with a confusion matrix "
            "per rater."
        ),
    ] = "majority",
    output_path: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV of item, label, ... to write.")
    ] = None,
    item: Annotated[str, typer.Option(help="The column naming the item rated.")] = "item",
    rater: Annotated[str, typer.Option(help="The column naming the rater.")] = "rater",
    label: Annotated[str, typer.Option(help="The column holding the label given.")] = "label",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON summary on standard output.")
    ] = False,
) -> int:
    """Aggregate raters' labels (one per item) and measure their agreement: Cohen's and
    Fleiss' kappa, Krippendorff's alpha, each rater's accuracy, a single rater's error."""
    import numpy as np

    from thalweg.cli.display import Output
    from thalweg.io import read_table, write_csv
    from thalweg.labels import (
        agreement_summary,
        dawid_skene,
        leave_one_out_agreement,
        majority_vote,
        ratings_from_table,
        two_rater_policy,
    )

    if output_path is not None and output_path.resolve() == ratings_file.resolve():
        raise UserError(f"-o {output_path} is the ratings file; choose another name")
    ratings = ratings_from_table(
        read_table(ratings_file), item, rater, label, source=str(ratings_file)
    )
    aggregate = {"majority": majority_vote, "two-rater": two_rater_policy}.get(method, dawid_skene)
    result = aggregate(ratings)
    summary = agreement_summary(ratings)
    if method == "dawid-skene":
        accuracy = result.details["rater_accuracy"]
        counts = np.bincount(ratings.rater_codes, minlength=len(ratings.raters))
        raters = {
            name: {"ratings": int(counts[r]), "accuracy": accuracy[name]}
            for r, name in enumerate(ratings.raters)
        }
        single_error = float(
            sum(counts[r] * (1 - accuracy[n]) for r, n in enumerate(ratings.raters)) / counts.sum()
        )
        accuracy_source = "Dawid-Skene confusion matrices"
    else:
        agreement = leave_one_out_agreement(ratings)
        raters = {
            name: {"ratings": a["ratings"], "accuracy": a["agreement"]}
            for name, a in agreement.items()
        }
        compared = sum(a["compared"] for a in agreement.values())
        agreeing = sum(a["compared"] * (a["agreement"] or 0) for a in agreement.values())
        single_error = 1 - agreeing / compared if compared else None
        accuracy_source = "agreement with the other raters of each item (leave-one-out)"
        if method == "two-rater":
            single_error = result.details["cost"]["single_rater_error_estimate"]
    status_counts = {s: result.status.count(s) for s in dict.fromkeys(result.status)}
    document = {
        "command": "labels",
        "method": method,
        "ratings_file": str(ratings_file),
        "agreement": summary,
        "statuses": status_counts,
        "raters": raters,
        "rater_accuracy_from": accuracy_source,
        "single_rater_error_estimate": single_error,
        **{k: v for k, v in result.details.items() if k != "rater_accuracy"},
        "written": {},
    }
    output = Output(json_mode=json_output)
    if output_path is not None:
        try:
            write_csv(output_path, result.table())
        except OSError as error:
            raise UserError(
                f"cannot write {output_path} ({error.strerror}); choose another -o"
            ) from None
        document["written"]["labels"] = output_path
    if output.human:
        _show(output, document, result)
    output.json(document)
    return EXIT_OK


def _number(value) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _show(output, document: dict, result) -> None:
    agreement = document["agreement"]
    counted = f"{agreement['ratings']:,} by {agreement['raters']} raters"
    rows = [
        ("ratings", f"{counted} on {agreement['items']:,} items"),
        ("labels", ", ".join(agreement["classes"])),
        ("outcome", ", ".join(f"{n:,} {s}" for s, n in document["statuses"].items())),
    ]
    if "cohen_kappa" in agreement:
        both = f"{agreement['cohen_kappa_items']:,} items rated by both"
        rows.append(("Cohen's κ", f"{agreement['cohen_kappa']:.3f} ({both})"))
    if "fleiss_kappa" in agreement:
        n = agreement["fleiss_kappa_ratings_per_item"]
        items = f"{agreement['fleiss_kappa_items']:,} items with {n} ratings"
        rows.append(("Fleiss' κ", f"{agreement['fleiss_kappa']:.3f} ({items})"))
        rows.append(("Krippendorff's α", f"{agreement['krippendorff_alpha']:.3f} (nominal)"))
    error = document["single_rater_error_estimate"]
    if error is not None:
        rows.append(("one rater's error", f"{error:.1%} (estimated)"))
    output.rows(f"{document['method']} labels for {document['ratings_file']}", rows)
    output.table(
        f"raters (accuracy: {document['rater_accuracy_from']})",
        ["rater", "ratings", "accuracy"],
        [
            [name, str(r["ratings"]), _number(r["accuracy"])]
            for name, r in document["raters"].items()
        ],
    )
    cost = document.get("cost")
    if cost is not None:
        output.table(
            "two-rater policy: cost arithmetic",
            ["", "value"],
            [
                ["items rated twice", f"{cost['items_rated_twice']:,}"],
                ["agreed (kept)", f"{cost['agreed']:,}"],
                [
                    "disagreed (re-send or drop)",
                    f"{cost['disagreed']:,} ({cost['disagreement_rate']:.1%})",
                ],
                ["rated once (need a second rating)", f"{cost['single']:,}"],
                ["ratings per kept label", _number(cost["ratings_per_kept_label"])],
                [
                    "extra cost of dropping disagreements",
                    _percent(cost["extra_cost_vs_two_ratings_per_item"]),
                ],
                ["extra cost of a third rater for all", "+50.0%"],
                [
                    "re-sending disagreements: ratings per item",
                    _number(cost["resend_ratings_per_item"]),
                ],
                [
                    "expected wrong among kept labels",
                    _percent(cost["expected_error_of_kept_labels"], sign=False),
                ],
            ],
        )
        disagreed = [
            (i, v)
            for i, s, v in zip(result.items, result.status, result.votes, strict=True)
            if s == "disagreed"
        ]
        if disagreed:
            shown = ", ".join(f"{i} ({v})" for i, v in disagreed[:10])
            more = f" and {len(disagreed) - 10} more" if len(disagreed) > 10 else ""
            output.line(f"disagreements to re-send or drop: {shown}{more}")
    if "iterations" in document:
        output.line(
            f"Dawid-Skene converged in {document['iterations']} iterations; priors: "
            + ", ".join(f"{k} {v:.3f}" for k, v in document["priors"].items())
        )
    output.written(document["written"])


def _percent(value, sign: bool = True) -> str:
    if value is None:
        return "—"
    return f"{'+' if sign else ''}{value:.1%}"
