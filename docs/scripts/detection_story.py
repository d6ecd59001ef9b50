"""Reproduce docs/detection.md's face-detector story with numbers.

Stages (all by default, or name some):

* ``target``: an ``SSDDetector`` with its defaults trained on 1,500 scenes of the
  ``faces-scenes`` dataset's *training* photographs (early stopping on 200 more), tested
  on 500 scenes made of the 20 faces and 20 clutter patches it never saw: AP@0.5 (target
  ≥ 0.85), COCO AP, training time (target ≤ 10 minutes);
* ``weighting``: the same training without confidence weighting, with α = 1 and with
  α = 9, a fixed 30 epochs each: AP, the mean IoU of each face with its highest-scoring
  box, faces left with a duplicate box after NMS, and how bumpy training was;
* ``suppression``: the α = 1 detector's boxes through greedy NMS, soft-NMS, weighted
  NMS and weighted box fusion: AP and duplicates;
* ``input``: three epochs with the targets matched on the fly (vectorized), by the
  per-anchor Python loop (in this process, and in two worker processes) and by the loop
  with a disk cache, each through the training loop's input-balance diagnostic
  (T_g, C, B, T_step, utilisation), for the default detector and for a dense one with
  SSD-like anchors;
* ``kindling``: a teacher trained on 300 labelled scenes boxes the 1,500 training
  scenes (``min_score`` 0.5); a detector trained on those kindled boxes against one
  trained on the true boxes, both tested on the held-out scenes.

Needs ``thalweg[faces]``. Prints Markdown tables; ``--figures`` also redraws
``docs/images/detection-*.png``. Run (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python docs/scripts/detection_story.py
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from thalweg.data import Pipeline
from thalweg.datasets.scenes import face_scenes
from thalweg.detection import (
    MatchTargets,
    box_fit,
    boxes_by_image,
    coco_evaluate,
    mean_average_precision,
    pad_boxes,
    select_detections,
)
from thalweg.models import SSDDetector
from thalweg.models.detector import detections_table

IMAGES = Path(__file__).resolve().parents[1] / "images"
STAGES = ("target", "weighting", "suppression", "input", "kindling")
EPOCHS = 30


def scenes(n: int, part: str, seed: int):
    """Images and their targets (``fit``'s y) and box table (evaluation's truth)."""
    images, table = face_scenes(n, part=part, seed=seed)
    names = [f"scene_{k:04d}.png" for k in range(n)]
    boxes, labels = boxes_by_image(table, names)
    targets = [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels, strict=True)]
    return images, targets, {**table, "image": np.asarray(table["image"])}, names


def evaluate(detections: dict, truth: dict) -> dict:
    coco = coco_evaluate(detections, truth)
    return {
        "ap50": mean_average_precision(detections, truth),
        "coco_ap": coco["ap"],
        "coco_ap75": coco["ap75"],
        **box_fit(detections, truth),
    }


def train(detector: SSDDetector, data, validation=None, **fit_options):
    started, cpu = time.perf_counter(), time.process_time()
    detector.fit(data[0], data[1], validation=validation, **fit_options)
    return time.perf_counter() - started, time.process_time() - cpu


def bumpiness(losses) -> dict:
    """How unstable a training curve is: epochs whose loss rose, and the largest rise."""
    losses = np.asarray(losses)
    rises = np.diff(losses)
    return {"rising_epochs": int((rises > 0).sum()), "largest_rise": float(max(rises.max(), 0))}


# ---------------------------------------------------------------------------- stages


def stage_target(data, results):
    train_data, validation, test = data["train"], data["validation"], data["test"]
    detector = SSDDetector(max_epochs=EPOCHS, early_stopping=True, random_state=0)
    seconds, cpu = train(detector, train_data, validation=validation[:2])
    found = detector.detect(test[0], test[3])
    results["target"] = {
        **evaluate(found, test[2]),
        "epochs": detector.n_iter_,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "stop_reason": detector.history_.stop_reason,
        "parameters": detector.module_.num_parameters(),
        "anchors": len(detector.anchors_),
    }
    row = results["target"]
    print("\n### target\n")
    print("| test scenes | AP@0.5 | COCO AP | AP75 | epochs | wall clock | CPU time |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {len(test[0])} ({len(test[2]['image'])} faces never seen) | {row['ap50']:.4f} | "
        f"{row['coco_ap']:.4f} | {row['coco_ap75']:.4f} | {row['epochs']} | "
        f"{seconds:.0f} s | {cpu:.0f} s |"
    )
    return detector


def stage_weighting(data, results, figures: bool):
    train_data, test = data["train"], data["test"]
    rows, curves, models = {}, {}, {}
    for name, options in (
        ("off", {"confidence_weighting": False}),
        ("α = 1", {"confidence_weighting": True, "alpha": 1.0}),
        ("α = 9", {"confidence_weighting": True, "alpha": 9.0}),
    ):
        detector = SSDDetector(max_epochs=EPOCHS, random_state=0, **options)
        seconds, _ = train(detector, train_data)
        losses = detector.history_["loss"]
        rows[name] = {
            **evaluate(detector.detect(test[0], test[3]), test[2]),
            **bumpiness(losses),
            "final_loss": float(losses[-1]),
            "seconds": seconds,
        }
        curves[name] = list(map(float, losses))
        models[name] = detector
        print(f"  trained {name}: {seconds:.0f} s", flush=True)
    results["weighting"] = {"rows": rows, "curves": curves}
    print("\n### confidence weighting\n")
    print(
        "| localization weight | AP@0.5 | COCO AP | AP75 | mean IoU, face ↔ top box | "
        "faces with a duplicate | missed | epochs the loss rose | largest rise |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['ap50']:.4f} | {row['coco_ap']:.4f} | {row['coco_ap75']:.4f} | "
            f"{row['mean_top_iou']:.3f} | {row['duplicates']} of {row['objects']} | "
            f"{row['missed']} | {row['rising_epochs']} | {row['largest_rise']:.3f} |"
        )
    if figures:
        draw_curves(curves)
    return models


def stage_suppression(detector: SSDDetector, data, results):
    test = data["test"]
    boxes, probabilities = detector.anchor_predictions(test[0])
    rows = {}
    for method in ("greedy", "soft", "weighted", "fusion"):
        started = time.perf_counter()
        found = []
        for image_boxes, image_probabilities in zip(boxes, probabilities, strict=True):
            kept, scores, codes = select_detections(
                image_boxes, image_probabilities, method=method, iou_threshold=detector.nms_iou
            )
            found.append({"boxes": kept, "scores": scores, "labels": detector.classes_[codes]})
        seconds = time.perf_counter() - started
        rows[method] = {**evaluate(detections_table(found, test[3]), test[2]), "seconds": seconds}
    results["suppression"] = rows
    print("\n### suppression (the α = 1 detector's boxes)\n")
    print(
        "| method | AP@0.5 | COCO AP | AP75 | mean IoU, face ↔ top box | "
        "faces with a duplicate | time |"
    )
    print("|---|---|---|---|---|---|---|")
    for method, row in rows.items():
        print(
            f"| {method} | {row['ap50']:.4f} | {row['coco_ap']:.4f} | {row['coco_ap75']:.4f} | "
            f"{row['mean_top_iou']:.3f} | {row['duplicates']} of {row['objects']} | "
            f"{row['seconds']:.2f} s |"
        )


class Matching:
    """``fit(batches=...)``: targets matched per batch in a pipeline instead of once."""

    def __init__(self, padded, method: str, workers: int = 0, cache=None):
        self.padded, self.method, self.workers, self.cache = padded, method, workers, cache
        self.detector = None

    def __call__(self, inputs, targets, batch_size):
        matcher = MatchTargets(
            self.detector.anchors_, self.detector.iou_threshold, method=self.method
        )
        pipeline = Pipeline.from_arrays(inputs, self.padded, seed=0).batch(batch_size)
        pipeline = pipeline.map(matcher, workers=self.workers)
        if self.cache is not None:
            pipeline = pipeline.cache(self.cache)
        return pipeline.prefetch(2) if self.workers else pipeline


def stage_input(data, results):
    images, targets = data["train"][0][:1024], data["train"][1][:1024]
    padded = pad_boxes(
        [t["boxes"] for t in targets], [np.zeros(len(t["boxes"]), np.int64) for t in targets]
    )
    configurations = {
        "default (360 anchors)": {},
        "dense (6,804 anchors)": {
            "feature_maps": 3,
            "anchor_sizes": ((10, 14, 20), (20, 28, 40), (40, 56, 80)),
            "aspect_ratios": (1.0, 2.0, 0.5),
        },
    }
    rows = []
    for config_name, options in configurations.items():
        with tempfile.TemporaryDirectory() as cache:
            variants = {
                "matched once, in memory (fit's default)": None,
                "on the fly, vectorized": Matching(padded, "vectorized"),
                "on the fly, per-anchor loop": Matching(padded, "loop"),
                "per-anchor loop, 2 worker processes": Matching(padded, "loop", workers=2),
                "per-anchor loop, cached on disk": Matching(padded, "loop", cache=cache),
            }
            for variant, batches in variants.items():
                detector = SSDDetector(max_epochs=3, random_state=0, **options)
                if batches is not None:
                    batches.detector = detector
                train(detector, (images, targets), batches=batches)
                history = detector.history_
                balance = history.input_balance
                row = {
                    "configuration": config_name,
                    "variant": variant,
                    "epoch_seconds": [float(s) for s in history["seconds"]],
                    "waited_seconds": [float(s) for s in history["data_seconds"]],
                }
                row.update(
                    example_seconds=balance.example_seconds,  # None: nothing made per batch
                    workers=balance.workers,
                    batch_size=balance.batch_size,
                    step_seconds=balance.step_seconds,
                    epoch_utilisation=balance.epoch_utilisation,
                )
                rows.append(row)
                print(f"  {config_name}, {variant}: {sum(row['epoch_seconds']):.0f} s", flush=True)
    results["input"] = rows
    print("\n### input side (1,024 scenes, batches of 32, 3 epochs)\n")
    print(
        "| detector | targets | T_g per image | C | T_g·B/C per batch | T_step | "
        "trainer busy, epochs 1 / 2 / 3 | epoch time, epochs 1 / 2 / 3 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        t_g = row["example_seconds"]
        per_batch = (
            "–" if t_g is None else f"{t_g * row['batch_size'] / row['workers'] * 1e3:.1f} ms"
        )
        print(
            f"| {row['configuration']} | {row['variant']} | "
            f"{'–' if t_g is None else f'{t_g * 1e3:.2f} ms'} | {row['workers']} | {per_batch} | "
            f"{row['step_seconds'] * 1e3:.0f} ms | "
            + " / ".join(f"{u:.0%}" for u in row["epoch_utilisation"])
            + " | "
            + " / ".join(f"{s:.1f} s" for s in row["epoch_seconds"])
            + " |"
        )


def stage_kindling(data, results, student_true: SSDDetector | None):
    train_data, validation, test = data["train"], data["validation"], data["test"]
    labelled = scenes(300, "train", seed=11)
    teacher = SSDDetector(max_epochs=EPOCHS, early_stopping=True, random_state=0)
    train(teacher, labelled, validation=validation[:2])
    kindled = teacher.detect(train_data[0], train_data[3])
    keep = kindled["score"] >= 0.5
    kindled = {key: np.asarray(values)[keep] for key, values in kindled.items()}
    boxes, labels = boxes_by_image(kindled, train_data[3])
    kindled_targets = [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels, strict=True)]
    quality = evaluate(kindled, train_data[2])
    truth_count = len(train_data[2]["image"])
    hits = truth_count - quality["missed"]
    student = SSDDetector(max_epochs=EPOCHS, early_stopping=True, random_state=0)
    train(student, (train_data[0], kindled_targets), validation=validation[:2])
    if student_true is None:
        student_true = SSDDetector(max_epochs=EPOCHS, early_stopping=True, random_state=0)
        train(student_true, train_data, validation=validation[:2])
    rows = {
        "teacher (300 scenes, true boxes)": evaluate(teacher.detect(test[0], test[3]), test[2]),
        "student (1,500 scenes, kindled boxes)": evaluate(
            student.detect(test[0], test[3]), test[2]
        ),
        "student (1,500 scenes, true boxes)": evaluate(
            student_true.detect(test[0], test[3]), test[2]
        ),
    }
    results["kindling"] = {
        "rows": rows,
        "kindled_boxes": int(keep.sum()),
        "true_boxes": truth_count,
        "faces_found": hits,
        "mean_top_iou": quality["mean_top_iou"],
    }
    print(
        f"\n### kindling: {int(keep.sum())} kindled boxes for {truth_count} faces "
        f"({hits} found with IoU > 0.5; mean IoU of a face with its top box "
        f"{quality['mean_top_iou']:.3f})\n"
    )
    print("| detector | AP@0.5 | COCO AP | AP75 |")
    print("|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['ap50']:.4f} | {row['coco_ap']:.4f} | {row['coco_ap75']:.4f} |")


# ---------------------------------------------------------------------------- figures


def draw_curves(curves: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for (name, losses), color in zip(
        curves.items(), ["#6b7280", "#0877bd", "#f59322"], strict=False
    ):
        ax.plot(range(1, len(losses) + 1), losses, label=name, color=color)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (its own weighting)")
    ax.set_yscale("log")
    ax.legend(title="localization weight")
    ax.set_title("Confidence weighting: training loss per epoch", loc="left")
    fig.tight_layout()
    fig.savefig(IMAGES / "detection-weighting.png", dpi=110)


def draw_detections(detector: SSDDetector, data) -> None:
    from thalweg.plot.detection import plot_detections

    test = data["test"]
    images = test[0][:12]
    figure = plot_detections(
        images / 255.0,
        detector.predict(images),
        [t["boxes"] for t in test[1][:12]],
        captions=test[3][:12],
        columns=6,
    )
    figure.savefig(IMAGES / "detection-faces.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stages", nargs="*", help=f"some of {', '.join(STAGES)} (default: all)")
    parser.add_argument("--figures", action="store_true", help="redraw docs/images/detection-*")
    parser.add_argument("--results", default=None, help="also write the numbers as JSON here")
    args = parser.parse_args()
    stages = args.stages or list(STAGES)
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    data = {
        "train": scenes(1500, "train", seed=1),
        "validation": scenes(200, "train", seed=3),
        "test": scenes(500, "test", seed=2),
    }
    results: dict = {}
    target = stage_target(data, results) if "target" in stages else None
    if target is not None and args.figures:
        draw_detections(target, data)
    models = stage_weighting(data, results, args.figures) if "weighting" in stages else {}
    if "suppression" in stages:
        weighted = models.get("α = 1")
        if weighted is None:
            weighted = SSDDetector(max_epochs=EPOCHS, confidence_weighting=True, random_state=0)
            train(weighted, data["train"])
        stage_suppression(weighted, data, results)
    if "input" in stages:
        stage_input(data, results)
    if "kindling" in stages:
        stage_kindling(data, results, target)
    if args.results:
        Path(args.results).write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
