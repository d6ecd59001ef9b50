"""Images on the command line: ``thalweg train DIR/``, ``thalweg evaluate MODEL DIR/``,
``thalweg predict MODEL DIR/``.

A folder of class sub-folders trains a :class:`~thalweg.models.CNNClassifier` (the work
is :func:`thalweg.models.image_folder.train_on_folder`); these functions parse what the
commands were given, call the library and print.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thalweg.cli.common import write_report, writing
from thalweg.cli.display import Output
from thalweg.cli.main import UserError
from thalweg.errors import DataError
from thalweg.files import atomic_write, read_metadata


@dataclass
class ImageTrainOptions:
    """What ``thalweg train DIR/`` was asked for (None: the estimator's default)."""

    size: tuple[int, int] | None = None
    color: str = "auto"
    layers: tuple[str, ...] | None = None
    augment: str = "default"
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    optimizer: str | None = None
    l2: float | None = None  # None: the estimator's default
    early_stopping: bool | None = None  # None: on when the split holds validation images
    patience: int = 5
    split: tuple[float, ...] = (0.7, 0.1, 0.2)
    seed: int = 0
    workers: int = 0
    cache: Path | None = None

    def fingerprint_settings(self) -> dict:
        """What shapes training, for the checkpoint's fingerprint: everything but the
        epoch cap (a resumed run may train longer) and how images are decoded."""
        return {
            "size": self.size,
            "color": self.color,
            "split": list(self.split),
            **self.estimator_params(verbose=0),
            "max_epochs": None,
        }

    def stops_early(self) -> bool:
        """Whether training stops when the validation loss stops improving (keeping the
        best weights): as given, else whenever the split has a validation part (as
        :meth:`thalweg.models.auto.TrainOptions.stops_early` for tables)."""
        if self.early_stopping is not None:
            return self.early_stopping
        return len(self.split) == 3

    def estimator_params(self, verbose: int) -> dict:
        params = {
            "augment": None if self.augment == "none" else self.augment,
            # Early stopping on the validation images decides when to stop (--epochs is a
            # cap); without it, every epoch runs.
            "early_stopping": self.stops_early(),
            "tol": None,
            "n_iter_no_change": self.patience,
            "random_state": self.seed,
            "verbose": verbose,
        }
        for name, value in (
            ("layers", self.layers),
            ("max_epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("learning_rate", self.learning_rate),
            ("optimizer", self.optimizer),
            ("l2", self.l2),
        ):
            if value is not None:
                params[name] = value
        return params


def is_image_model(path) -> bool:
    """Whether ``path`` holds an image classifier (rather than a table model); only
    the header is read (a file that is not a model file is refused in one line)."""
    return read_metadata(path).get("class") == "CNNClassifier"


def input_name(data) -> str:
    """How messages name a data argument: a folder of images, or a file."""
    return "the image folder" if isinstance(data, Path) and data.is_dir() else "the data file"


def is_detector_model(path) -> bool:
    """Whether ``path`` holds an object detector (``thalweg train-detector``); only the
    header is read."""
    return read_metadata(path).get("class") == "SSDDetector"


def refuse_detector(path, command: str) -> None:
    """One clear line when ``path`` holds a detector, which ``command`` cannot run."""
    if is_detector_model(path):
        raise UserError(
            f"{path} is a detector; {command} takes classifiers and regressors: run thalweg "
            "detect MODEL IMAGES/ (with --boxes truth.csv to evaluate it)"
        )


def inspect_detector(model_file: Path, *, json_output: bool) -> int:
    """``thalweg inspect`` on a detector: classes, input, anchors, layers, training."""
    from thalweg.models import load_model

    model = load_model(model_file)
    module = model.module_
    info = {
        "model": str(model_file),
        "class": "SSDDetector",
        "classes": [str(c) for c in model.classes_],
        "image_shape": list(model.image_shape_),
        "feature_maps": [list(size) for size in model.feature_map_sizes_],
        "anchors": len(model.anchors_),
        "parameters": int(module.num_parameters()),
        "network": repr(module),
        "hyperparameters": {k: v for k, v in model.get_params().items() if k != "verbose"},
        "epochs_run": int(model.n_iter_),
        "final_loss": float(model.loss_),
    }
    output = Output(json_mode=json_output)
    output.rows(
        f"{Path(model_file).name}: SSDDetector",
        [
            ("classes", ", ".join(info["classes"])),
            ("input", f"images {'×'.join(map(str, model.image_shape_))} (C×H×W)"),
            ("feature maps", ", ".join("×".join(map(str, s)) for s in info["feature_maps"])),
            ("anchors", f"{info['anchors']:,}"),
            ("parameters", f"{info['parameters']:,}"),
            ("epochs run", str(info["epochs_run"])),
            ("final training loss", f"{info['final_loss']:.4g}"),
        ],
    )
    for text in info["network"].splitlines():  # one line at a time: line() escapes newlines
        output.line(text)
    output.json(info)
    return 0


def looks_like_image_folder(path) -> bool:
    """A local folder (not a Parquet dataset or a folder of CSVs): ``train`` treats it as
    images. URLs (``s3://...``) are tables."""
    if not isinstance(path, Path) or not path.is_dir():
        return False
    tables = (".parquet", ".csv", ".npz", ".pq")
    return not any(p.suffix.lower() in tables for p in path.iterdir() if p.is_file())


def train(
    data: Path,
    options: ImageTrainOptions,
    *,
    out: Path,
    report: Path | None,
    resume: bool,
    quiet: bool,
    json_output: bool,
) -> int:
    """``thalweg train DIR/``: train, write the model and the report together, print test
    metrics. Ctrl-C (SIGTERM, SIGHUP) saves a checkpoint beside ``out`` and says how to
    resume; the caller checked the output paths."""
    from thalweg.cli.common import command_line
    from thalweg.cli.train import checkpoint_path, interrupted
    from thalweg.data.images import ImageFolder
    from thalweg.files import write_together
    from thalweg.models.image_folder import folder_fingerprint, train_on_folder
    from thalweg.models.table_training import checkpoint_for, settle_checkpoints
    from thalweg.train import TrainingInterrupted

    output = Output(quiet=quiet, json_mode=json_output)
    command = command_line()
    folder = ImageFolder(data, size=options.size, color=options.color)
    fingerprint = folder_fingerprint(folder, options.fingerprint_settings())
    checkpoint = checkpoint_for(checkpoint_path(out), fingerprint, resume)
    try:
        run = train_on_folder(
            folder,
            fractions=options.split,
            workers=options.workers,
            cache=options.cache,
            checkpoint=checkpoint,
            fingerprint=fingerprint,
            resume=resume,
            on_line=output.line,
            **options.estimator_params(verbose=0 if quiet or json_output else 1),
        )
    except TrainingInterrupted as interruption:
        return interrupted(interruption, command, resumable=True)
    model = run.model
    splits = {name: len(part.y) for name, part in run.parts.items()}
    history = model.history_
    if history.stop_reason:
        output.line(f"stopped after {len(history)} epochs: {history.stop_reason}")
    # The report is built before anything is written: if it fails, nothing is.
    built = _report(run, data, "test") if report is not None else None
    written = {"model": out}
    with write_together():  # the model and the report: both, or neither
        with writing(out, "--out", "the model"):  # disk full, permissions: old file kept
            run.save(out, command)
        if built is not None:
            written["report"] = write_report(report, built)
    for line in settle_checkpoints(checkpoint_path(out), checkpoint, resume):
        output.line(line)
    if "test" in run.scores:
        output.metrics(run.scores["test"], f"test metrics ({splits['test']} images)")
    output.written(written)
    output.json(
        {
            "command": "train",
            "task": "classification",
            "model": "CNNClassifier",
            "images": len(folder),
            "classes": folder.classes,
            "image_shape": list(folder.image_shape),
            "splits": splits,
            "epochs_run": int(model.n_iter_),
            "stop_reason": history.stop_reason,
            "seconds": round(run.seconds, 3),
            "metrics": {"test": run.scores.get("test", {})},
            "written": written,
        }
    )
    return 0


def evaluate(
    model_file: Path, data: Path, *, report: Path | None, quiet: bool, json_output: bool
) -> int:
    """``thalweg evaluate MODEL DIR/``: metrics (and a report) on a folder of class
    folders; the caller checked the output paths."""
    from thalweg.data.images import ImageFolder, ImageSplit
    from thalweg.models import load_model
    from thalweg.models.image_folder import FolderTraining, classification_scores

    model = load_model(model_file)
    channels, height, width = model.image_shape_
    folder = ImageFolder(data, size=(height, width), color="grayscale" if channels == 1 else "rgb")
    unknown = sorted(set(folder.classes) - {str(c) for c in model.classes_})
    if unknown:
        raise DataError(
            f"{data} has class folders the model never saw: {', '.join(unknown)}; the model "
            f"knows {', '.join(map(str, model.classes_))}"
        )
    X, codes = folder.load()
    labels = np.asarray(folder.classes, dtype=object)[codes]
    labels = labels.astype(model.classes_.dtype) if model.classes_.dtype != object else labels
    scores = classification_scores(model, X, labels)
    output = Output(quiet=quiet, json_mode=json_output)
    output.line(f"evaluated {len(X)} images of {data}")
    output.metrics(scores, f"metrics on {Path(data).name}")
    written = {}
    if report is not None:
        run = FolderTraining(model, folder, {"test": ImageSplit(X, labels, folder.paths)}, 0.0)
        run.scores["test"] = scores
        written["report"] = write_report(report, _report(run, data, Path(data).name))
    output.written(written)
    output.json(
        {
            "command": "evaluate",
            "model": str(model_file),
            "data": str(data),
            "images": len(X),
            "metrics": scores,
            "written": written,
        }
    )
    return 0


def predict(model_file: Path, data: Path, output_path: Path | None) -> int:
    """``thalweg predict MODEL DIR/``: one CSV row per image file (recursively); the
    caller checked the output path."""
    from thalweg.data.images import image_files, load_images
    from thalweg.models import load_model

    model = load_model(model_file)
    channels, height, width = model.image_shape_
    paths = image_files(data)
    X = load_images(paths, (height, width), "grayscale" if channels == 1 else "rgb")
    probabilities = model.predict_proba(X)
    predicted = model.classes_[np.argmax(probabilities, axis=1)]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "prediction", *(f"probability_{c}" for c in model.classes_)])
    base = Path(data) if Path(data).is_dir() else Path(data).parent
    for path, label, row in zip(paths, predicted, probabilities, strict=True):
        writer.writerow([path.relative_to(base).as_posix(), label, *(f"{p:.6g}" for p in row)])
    if output_path is None:
        written = text.getvalue()
        if sys.stdout.isatty():
            # A person reads it: file and class names (from folder names) are shown
            # escaped. Into a pipe or a file it goes as it is (it is data).
            from thalweg.terminal import printable

            written = "\n".join(printable(line) for line in written.split("\n"))
        sys.stdout.write(written)
        sys.stdout.flush()
        return 0
    try:
        with atomic_write(output_path, "w") as handle:
            handle.write(text.getvalue())
    except OSError as error:
        raise UserError(
            f"cannot write {output_path} ({error.strerror or error}); choose another -o"
        ) from None
    Output().line(f"wrote predictions: {output_path} ({len(paths)} images)")
    return 0


def inspect(model_file: Path, *, json_output: bool) -> int:
    """``thalweg inspect`` on an image model: classes, input, layers, training."""
    from thalweg.models import load_model

    model = load_model(model_file)
    module = model.module_
    info = {
        "model": str(model_file),
        "class": "CNNClassifier",
        "classes": [str(c) for c in model.classes_],
        "image_shape": list(model.image_shape_),
        "pixel_range": list(model.pixel_range_),
        "parameters": int(module.num_parameters()),
        "layers": [repr(layer) for layer in module.layers],
        "hyperparameters": {k: v for k, v in model.get_params().items() if k != "verbose"},
        "epochs_run": int(model.n_iter_),
        "final_loss": float(model.loss_),
        "image_statistics": _statistics_summary(getattr(model, "image_statistics_", None)),
    }
    output = Output(json_mode=json_output)
    summary = info["image_statistics"]
    medians = (
        [
            (
                f"training images ({next(iter(summary.values()))['count']:,}), medians",
                ", ".join(f"{name} {s['median']:.3g}" for name, s in summary.items()),
            )
        ]
        if summary
        else []
    )
    output.rows(
        f"{Path(model_file).name}: CNNClassifier",
        [
            ("classes", ", ".join(info["classes"])),
            ("input", f"images {'×'.join(map(str, model.image_shape_))} (C×H×W)"),
            ("parameters", f"{info['parameters']:,}"),
            ("epochs run", str(info["epochs_run"])),
            ("final training loss", f"{info['final_loss']:.4g}"),
            *medians,
        ],
    )
    output.table(
        "layers", ["#", "layer"], [[str(i), text] for i, text in enumerate(info["layers"])]
    )
    output.json(info)
    return 0


def _statistics_summary(statistics) -> dict | None:
    """Count, mean, std and median of each training-image statistic (what ``thalweg
    skew`` compares new images with), or None for a model file without them."""
    if not statistics:
        return None
    return {
        name: {
            "count": profile["count"],
            "mean": profile.get("mean"),
            "std": profile.get("std"),
            "median": profile["quantiles"][50] if "quantiles" in profile else None,
        }
        for name, profile in statistics.items()
    }


def _report(run, data: Path, split_name: str):
    """The HTML report's input for a trained (or evaluated) image classifier."""
    from thalweg.models.image_folder import misclassified
    from thalweg.report.inputs import ImageExamples, ReportInput

    model, part = run.model, run.parts["test"]
    probabilities = model.predict_proba(part.X)
    images, true, guessed, captions, total = misclassified(
        model, part.X, part.y, [Path(p).name for p in part.paths]
    )
    params = {k: v for k, v in model.get_params().items() if k != "verbose"}
    all_labels = np.concatenate([p.y for p in run.parts.values()])
    return ReportInput(
        title=f"{Path(data).name}: classifying images",
        task="classification",
        model_name=f"CNNClassifier(layers={model.layers!r})",
        hyperparameters=params,
        seed=model.random_state,
        seconds=run.seconds,
        data_summary={
            "source": str(data),
            "rows": len(all_labels),
            "target": "class (sub-folder name)",
            "splits": {name: len(p.y) for name, p in run.parts.items()},
        },
        metrics=run.scores.get("test", {}),
        y_true=np.asarray(part.y),
        y_pred=model.classes_[np.argmax(probabilities, axis=1)],
        y_score=probabilities,
        classes=model.classes_.tolist(),
        history=model.history_,
        split_name=split_name,
        target_values=all_labels,
        misclassified=ImageExamples(images, true, guessed, captions, total),
    )
