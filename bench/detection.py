"""Detection ops: NMS, box IoU and SSD anchor matching against NumPy, PyTorch and loops.

* ``nms``: 10,000 boxes in 500 clusters of 20 jittered copies (objects 16–96 px,
  log-uniform, in a 1024 × 1024 image; copies jittered by 10 % of the size), random
  scores, IoU 0.5. Peers: the plain vectorized NumPy greedy NMS everyone writes
  (argsort, then per kept box one IoU row against the remaining boxes) and the same
  algorithm in PyTorch eager. Target: ≥ 3× NumPy. Every contestant must keep exactly
  the indices ``thalweg.detection.nms`` keeps (checked before timing).
* ``box_iou``: 1,000 × 10,000 float32 boxes. Peers: torchvision's broadcasting formula in
  NumPy (``(N, M, 2)`` temporaries) and the best broadcasting version (one coordinate at
  a time, in-place, ``out=``); "write floor" allocates and fills the ``(N, M)`` float32
  result and nothing else: what any function returning a new IoU matrix must pay.
  Target: ≥ 1.0× the best NumPy version.
* ``match_anchors``: a batch of 32 images, 3,825 SSD default boxes (96 × 96 input, maps
  24/12/6/3, four aspect ratios + the extra box), 0–3 boxes per image. Peers: a per-anchor
  Python loop (the story's) and a straightforward vectorized NumPy version (per image,
  broadcast IoU, max/argmax, forced matches). Targets: ≥ 50× the loop, ≥ 1.0× NumPy.
* ``detector training step``: ``SSDDetector``'s default network (1×96×96 input, 360
  anchors) on a batch of 32 drawn scenes, forward, the multibox loss with hard negative
  mining, backward and an Adam step. Peer: the same network in PyTorch eager (weights
  copied) with ssd.pytorch's ``MultiBoxLoss`` written the same way. Target: ≥ 0.8×
  PyTorch. Both must reach the same loss after a few steps.

    python -m bench --only detection
"""

from __future__ import annotations

import sys

import numpy as np

from bench import harness

N_OBJECTS, COPIES, IOU = 500, 20, 0.5


# ------------------------------------------------------------------------------ nms


def clustered_boxes(seed: int = 0):
    rng = np.random.default_rng(seed)
    wh = np.exp(rng.uniform(np.log(16), np.log(96), (N_OBJECTS, 2)))
    centers = rng.uniform(0, 1024, (N_OBJECTS, 2))
    centers = np.repeat(centers, COPIES, 0)
    wh = np.repeat(wh, COPIES, 0)
    centers = centers + rng.normal(0, 0.1, centers.shape) * wh
    wh = wh * np.exp(rng.normal(0, 0.1, wh.shape))
    boxes = np.concatenate([centers - wh / 2, centers + wh / 2], 1).astype(np.float32)
    return boxes, rng.random(len(boxes)).astype(np.float32)


def _checked(kept: np.ndarray, boxes, scores) -> float:
    """Fail unless ``kept`` is exactly thalweg's result; the check value is its length."""
    from thalweg.detection import nms

    expected = nms(boxes, scores, IOU)
    if not np.array_equal(np.asarray(kept), expected):
        raise AssertionError(f"kept {len(kept)} boxes, thalweg kept {len(expected)}: not the same")
    return float(len(kept))


def thalweg_nms():
    from thalweg.detection import nms

    boxes, scores = clustered_boxes()

    def step():
        kept = nms(boxes, scores, IOU)
        return harness.Lazy(lambda: _checked(kept, boxes, scores))

    return step


def numpy_nms():
    """The plain vectorized greedy NMS: one IoU row per kept box."""
    boxes, scores = clustered_boxes()
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)

    def greedy():
        order = np.argsort(-scores, kind="stable")
        keep = []
        while order.size:
            i = order[0]
            keep.append(i)
            rest = order[1:]
            w = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0)
            h = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0)
            inter = w * h
            iou = inter / (areas[i] + areas[rest] - inter)
            order = rest[iou.astype(np.float64) <= IOU]
        return np.array(keep, np.int64)

    def step():
        kept = greedy()
        return harness.Lazy(lambda: _checked(kept, boxes, scores))

    return step


def pytorch_nms():
    """The same greedy algorithm in PyTorch eager (torchvision's kernel is not available)."""
    import torch

    boxes_np, scores_np = clustered_boxes()
    boxes, scores = torch.from_numpy(boxes_np), torch.from_numpy(scores_np)
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1) * (y2 - y1)

    def greedy():
        order = torch.sort(scores, descending=True, stable=True).indices
        keep = []
        while order.numel():
            i = order[0]
            keep.append(int(i))
            rest = order[1:]
            w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
            h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
            inter = w * h
            iou = inter / (areas[i] + areas[rest] - inter)
            order = rest[iou.double() <= IOU]
        return np.array(keep, np.int64)

    def step():
        kept = greedy()
        return harness.Lazy(lambda: _checked(kept, boxes_np, scores_np))

    return step


# -------------------------------------------------------------------------- box_iou


def iou_inputs(seed: int = 1):
    rng = np.random.default_rng(seed)

    def boxes(n):
        xy = rng.uniform(0, 1000, (n, 2))
        wh = rng.uniform(4, 200, (n, 2))
        return np.concatenate([xy, xy + wh], 1).astype(np.float32)

    return boxes(1000), boxes(10_000)


def _iou_sum(iou) -> float:
    return float(np.sum(iou, dtype=np.float64))


def thalweg_iou():
    from thalweg.detection import box_iou

    a, b = iou_inputs()

    def step():
        iou = box_iou(a, b)
        return harness.Lazy(lambda: _iou_sum(iou))

    return step


def numpy_broadcast_iou():
    """torchvision's box_iou formula, written in NumPy: (N, M, 2) temporaries."""
    a, b = iou_inputs()

    def step():
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        lt = np.maximum(a[:, None, :2], b[None, :, :2])
        rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
        wh = np.clip(rb - lt, 0, None)
        inter = wh[..., 0] * wh[..., 1]
        iou = inter / (area_a[:, None] + area_b - inter)
        return harness.Lazy(lambda: _iou_sum(iou))

    return step


def numpy_columns_iou():
    """The best plain broadcasting version: one coordinate at a time, in place, (N, M) only."""
    a, b = iou_inputs()
    ax1, ay1, ax2, ay2 = (a[:, k : k + 1] for k in range(4))
    bx1, by1, bx2, by2 = (np.ascontiguousarray(b[:, k]) for k in range(4))
    area_a = (ax2 - ax1) * (ay2 - ay1)
    area_b = (bx2 - bx1) * (by2 - by1)

    def step():
        w = np.minimum(ax2, bx2)
        w -= np.maximum(ax1, bx1)
        np.maximum(w, 0, out=w)
        h = np.minimum(ay2, by2)
        h -= np.maximum(ay1, by1)
        np.maximum(h, 0, out=h)
        w *= h
        union = area_a + area_b
        union -= w
        np.divide(w, union, out=w)
        return harness.Lazy(lambda: _iou_sum(w))

    return step


def write_floor():
    """Allocate and fill an (N, M) float32 array: the memory traffic of the result alone."""
    from thalweg.detection import box_iou

    a, b = iou_inputs()
    total = _iou_sum(box_iou(a, b))  # (computes nothing when timed: the check passes)

    def step():
        out = np.empty((len(a), len(b)), np.float32)
        out.fill(0.5)
        return harness.Lazy(lambda: total)

    return step


# -------------------------------------------------------------------- match_anchors


def match_inputs(seed: int = 2):
    from thalweg.detection import default_boxes

    anchors = default_boxes([24, 12, 6, 3], 96, [0.1, 0.2, 0.38, 0.62, 0.9], [1.0, 2.0, 0.5, 1.5])
    rng = np.random.default_rng(seed)
    gt = []
    for _ in range(32):
        n = int(rng.integers(0, 4))
        side = rng.uniform(12, 48, (n, 1))
        corner = rng.uniform(0, 96 - side, (n, 2))
        gt.append(np.concatenate([corner, corner + side], 1).astype(np.float32))
    return anchors, gt


def _match_check(matches) -> float:
    return float(
        np.sum(
            (np.asarray(matches) + 1)
            * np.arange(1, np.size(matches) + 1).reshape(np.shape(matches))
        )
    )


def thalweg_match():
    from thalweg.detection import match_anchors

    anchors, gt = match_inputs()

    def step():
        matches = match_anchors(anchors, gt, 0.5)
        return harness.Lazy(lambda: _match_check(matches))

    return step


def numpy_match():
    """Straightforward vectorized NumPy: per image, broadcast IoU and reductions."""
    anchors, gt = match_inputs()
    anchor_area = (anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1])

    def step():
        out = np.full((len(gt), len(anchors)), -1, np.int64)
        for b, boxes in enumerate(gt):
            if not len(boxes):
                continue
            lt = np.maximum(boxes[:, None, :2], anchors[None, :, :2])
            rb = np.minimum(boxes[:, None, 2:], anchors[None, :, 2:])
            wh = np.clip(rb - lt, 0, None)
            inter = wh[..., 0] * wh[..., 1]
            box_area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            iou = inter / (box_area[:, None] + anchor_area - inter)
            best = iou.argmax(axis=0)
            matches = np.where(iou.max(axis=0) >= 0.5, best, -1)
            matches[iou.argmax(axis=1)] = np.arange(len(boxes))
            out[b] = matches
        return harness.Lazy(lambda: _match_check(out))

    return step


def loop_match():
    """The story's matching: for each image, each anchor, each box, in Python."""
    anchors, gt = match_inputs()
    anchor_list = anchors.astype(np.float64).tolist()

    def iou(p, q):
        w = min(p[2], q[2]) - max(p[0], q[0])
        h = min(p[3], q[3]) - max(p[1], q[1])
        if w <= 0 or h <= 0:
            return 0.0
        inter = w * h
        return inter / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter)

    def step():
        out = []
        for boxes in gt:
            boxes = boxes.astype(np.float64).tolist()
            matches, best_anchor = [], [(-1.0, 0)] * len(boxes)
            for a, anchor in enumerate(anchor_list):
                best, best_iou = -1, -1.0
                for g, box in enumerate(boxes):
                    overlap = iou(box, anchor)
                    if overlap > best_iou:
                        best, best_iou = g, overlap
                    if overlap > best_anchor[g][0]:
                        best_anchor[g] = (overlap, a)
                matches.append(best if best_iou >= 0.5 else -1)
            for g, (overlap, a) in enumerate(best_anchor):
                if overlap > 0:
                    matches[a] = g
            out.append(matches)
        return harness.Lazy(lambda: _match_check(np.array(out)))

    return step


# ------------------------------------------------------------------------------ detector

TRAIN_STEP_CHECK = 5  # steps before the losses are compared


def detector_batch():
    """A fitted-encoding SSDDetector, its network and one batch of 32 scenes' targets."""
    from thalweg.datasets.scenes import make_scenes
    from thalweg.detection import boxes_by_image
    from thalweg.models import SSDDetector

    images, table = make_scenes(32, seed=0)
    boxes, labels = boxes_by_image(table, [f"scene_{k:04d}.png" for k in range(32)])
    targets = [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels, strict=True)]
    detector = SSDDetector(random_state=0)
    X = detector._validate_X(images, reset=True)
    y = detector._validate_y(targets, len(X), reset=True)
    detector.learn_encoding(detector.summarize(X, y, None))
    module = detector.build_module(0, np.random.default_rng(0), np.float32)
    inputs, packed = detector.encode(X, y)
    return detector, module, inputs, packed


def thalweg_detector_step():
    import thalweg
    from thalweg import optim

    detector, module, inputs, packed = detector_batch()
    optimizer = optim.Adam(module.parameters(), lr=1e-3)
    x = thalweg.from_numpy(inputs)

    def step():
        optimizer.zero_grad()
        loss = detector.loss(module(x), packed)
        loss.backward()
        optimizer.step()
        return loss

    return step


def torch_detector_step():
    import torch

    from thalweg import nn

    _, module, inputs, packed = detector_batch()

    def mirror(layer):
        if isinstance(layer, nn.Sequential):
            return torch.nn.Sequential(*(mirror(inner) for inner in layer.layers))
        if isinstance(layer, nn.Conv2d):
            conv = torch.nn.Conv2d(
                layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                layer.padding,
            )  # fmt: skip
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(layer.weight.data))
                conv.bias.copy_(torch.from_numpy(layer.bias.data))
            return conv
        if isinstance(layer, nn.MaxPool2d):
            return torch.nn.MaxPool2d(2)
        if isinstance(layer, nn.ReLU):
            return torch.nn.ReLU()
        if isinstance(layer, nn.Normalize):
            from bench.vision import _TorchNormalize

            return _TorchNormalize(layer.mean, layer.scale)
        raise TypeError(f"no mirror for {type(layer).__name__}")

    stages = torch.nn.ModuleList(mirror(s) for s in module.stages.layers)
    heads = torch.nn.ModuleList(mirror(h) for h in module.heads.layers)
    values = module.values_per_anchor
    parameters = [*stages.parameters(), *heads.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    x = torch.from_numpy(inputs)
    labels = torch.from_numpy(packed[..., 0].astype(np.int64))
    offsets = torch.from_numpy(np.ascontiguousarray(packed[..., 1:]))

    def forward(x):
        pieces = []
        for stage, head in zip(stages, heads, strict=True):
            x = stage(x)
            scores = head(x)
            b, c, h, w = scores.shape
            pieces.append(scores.permute(0, 2, 3, 1).reshape(b, h * w * c // values, values))
        return torch.cat(pieces, 1)

    def step():
        optimizer.zero_grad()
        out = forward(x)
        loss = torch_multibox_loss(torch, out[..., 4:], out[..., :4], labels, offsets)
        loss.backward()
        optimizer.step()
        return loss

    return step


def torch_multibox_loss(torch, logits, predicted, labels, targets, ratio=3):
    """ssd.pytorch's MultiBoxLoss: smooth L1 on positives, cross-entropy on positives and
    the 3× hardest negatives per image (stable ranking), over the number of positives."""
    F = torch.nn.functional
    positive = labels > 0
    n_positive = positive.sum(dim=1, keepdim=True)
    with torch.no_grad():
        mining = torch.logsumexp(logits, dim=2) - logits[..., 0]
        mining[positive] = 0
        _, order = mining.sort(dim=1, descending=True, stable=True)
        _, rank = order.sort(dim=1)
        negative = rank < torch.clamp(ratio * n_positive, max=positive.shape[1] - n_positive)
    loc = F.smooth_l1_loss(predicted[positive], targets[positive], reduction="sum")
    chosen = positive | negative
    conf = F.cross_entropy(logits[chosen], labels[chosen], reduction="sum")
    return (loc + conf) / max(int(n_positive.sum()), 1)


# ------------------------------------------------------------------------------ run

WORKLOADS = {
    "nms, 10,000 clustered boxes, IoU 0.5": (
        [
            ("thalweg", "thalweg_nms"),
            ("NumPy greedy", "numpy_nms"),
            ("PyTorch greedy", "pytorch_nms"),
        ],
        {"NumPy greedy": 3.0, "PyTorch greedy": None},
    ),
    "box_iou 1,000 × 10,000 (float32)": (
        [
            ("thalweg", "thalweg_iou"),
            ("NumPy broadcast (torchvision formula)", "numpy_broadcast_iou"),
            ("NumPy per-coordinate, in place", "numpy_columns_iou"),
            ("write floor (allocate + fill the result)", "write_floor"),
        ],
        {
            "NumPy broadcast (torchvision formula)": 1.0,
            "NumPy per-coordinate, in place": 1.0,
            "write floor (allocate + fill the result)": None,
        },
    ),
    "match_anchors, 32 images × 3,825 anchors × ≤ 3 boxes": (
        [
            ("thalweg", "thalweg_match"),
            ("NumPy vectorized per image", "numpy_match"),
            ("Python loop per anchor", "loop_match"),
        ],
        {"NumPy vectorized per image": 1.0, "Python loop per anchor": 50.0},
    ),
    "detector training step, batch 32 × 1×96×96, Adam": (
        [
            ("thalweg", "thalweg_detector_step"),
            ("PyTorch eager", "torch_detector_step"),
        ],
        {"PyTorch eager": 0.8},
    ),
}
CHECK_STEPS = {"detector training step, batch 32 × 1×96×96, Adam": TRAIN_STEP_CHECK}


def run(settings: harness.Settings) -> harness.Table:
    table = harness.Table(
        title="Detection ops (thalweg.detection)",
        note=(
            "Milliseconds per call (median over rounds). Ratio: the peer's time over "
            "thalweg's (median of per-round paired ratios, quartiles in parentheses); > 1 "
            "means thalweg is faster. Targets (issue 14): nms ≥ 3× the plain NumPy greedy "
            "NMS; box_iou ≥ 1.0× the best NumPy broadcasting; match_anchors ≥ 50× the "
            "per-anchor loop and ≥ 1.0× vectorized NumPy; the detector's training step ≥ "
            "0.8× PyTorch eager. The write floor's ratio below 1 says how far box_iou is "
            "from the memory bandwidth limit. float32."
        ),
        columns=[
            "workload",
            "peer",
            "thalweg ms",
            "peer ms",
            "thalweg vs peer",
            "target",
            "met",
            "rounds",
        ],
    )
    for workload, (entries, targets) in WORKLOADS.items():
        entrants = [
            harness.Contestant(name, f"bench.detection:{factory}") for name, factory in entries
        ]
        print(f"  {workload}", flush=True)
        with harness.Workers([c.name for c in entrants]) as workers:
            steps = CHECK_STEPS.get(workload, 1)
            timing = harness.check_then_time(workers, entrants, workload, steps, settings, table)
        for peer, target in targets.items():
            ratio = timing.speed_ratio("thalweg", peer)
            table.rows.append(
                [
                    workload,
                    peer,
                    f"{timing.median('thalweg') * 1e3:.2f}",
                    f"{timing.median(peer) * 1e3:.2f}",
                    harness.fmt_ratio(ratio),
                    "–" if target is None else f"≥ {target:g}×",
                    "–" if target is None else harness.verdict(ratio, target),
                    timing.rounds_note,
                ]
            )
            print("  " + " | ".join(table.rows[-1]), flush=True)
    return table


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(run(harness.Settings.quick() if quick else harness.Settings()).text())
