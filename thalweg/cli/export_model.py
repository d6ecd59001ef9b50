"""``thalweg export MODEL OUT.onnx``: a trained MLP or CNN as an ONNX graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command(
        "export",
        epilog="Example:\n\n  $ thalweg export faces.thalweg faces.onnx",
    )(export)


def export(
    model_file: Annotated[Path, typer.Argument(help="A model file written by thalweg train.")],
    out: Annotated[Path, typer.Argument(help="The ONNX file to write (e.g. model.onnx).")],
) -> int:
    """Write a trained MLP or CNN, with its preprocessing, as an ONNX graph that runs
    without thalweg (onnxruntime, on a Raspberry Pi or in a browser)."""
    from thalweg.cli.common import check_paths, writing
    from thalweg.cli.display import Output
    from thalweg.export import export_onnx
    from thalweg.files import read_metadata

    check_paths({"OUT": out}, {"the model file": model_file})
    metadata = read_metadata(model_file)  # the header only: the loader below reads the rest
    if "tabular" in metadata:
        from thalweg.models.tabular import TabularModel

        model = TabularModel.load(model_file)
        inputs = ", ".join(c["name"] for c in model.columns_)
        note = f"input 'features': the columns {inputs}, in that order"
    else:
        from thalweg.models import load_model

        model = load_model(model_file)
        shape = getattr(model, "image_shape_", None)
        note = (
            f"input 'images': (n, {', '.join(map(str, shape))}) raw pixels"
            if shape
            else f"input 'features': (n, {model.n_features_in_})"
        )
    with writing(out, "OUT"):  # disk full, permissions: any file already there is unchanged
        export_onnx(model, out)
    estimator = getattr(model, "estimator_", model)
    answer = (
        "'prediction': (n,)"
        if type(estimator).__name__ == "MLPRegressor"
        else f"'probabilities': (n, {len(estimator.classes_)}), one column per class "
        f"({', '.join(map(str, estimator.classes_))})"
    )
    output = Output()
    output.line(f"wrote {out}: {note}; output {answer}")
    return 0
