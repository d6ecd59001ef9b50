"""Comparing runs: what differed between them (parameters, data) and what it changed
(final metrics, learning curves)."""

from __future__ import annotations

from collections.abc import Sequence

# Final metrics where smaller is better; every other metric is taken as larger-is-better.
SMALLER_IS_BETTER = ("loss", "mse", "rmse", "mae", "error", "seconds", "duration")


def smaller_is_better(metric: str) -> bool:
    """Whether a lower value of ``metric`` is the better one (losses, errors, time).

    >>> smaller_is_better("val_loss"), smaller_is_better("test_accuracy")
    (True, False)
    """
    return any(word in metric.lower() for word in SMALLER_IS_BETTER)


def compare_runs(runs: Sequence[dict]) -> dict:
    """Line up runs (each as returned by ``RunStore.get_run``) for comparison.

    Returns a dict with

    * ``runs``: id, name, kind, status, duration of each run, in the order given;
    * ``params``: one row per parameter name, ``{"name", "values", "differs"}``
      (``values[i]`` is run ``i``'s value, None when it did not log it);
    * ``metrics``: one row per final metric, ``{"name", "values", "best", "differs"}``
      (``best``: the index of the best run, by :func:`smaller_is_better`);
    * ``data``: one row per data role, ``{"role", "sha256", "differs"}``;
    * ``curves``: metric name -> list (one per run) of ``[step, value]`` pairs.

    >>> a = {"id": 1, "params": {"lr": 0.1, "epochs": 5}, "metrics": {"loss": 0.4}}
    >>> b = {"id": 2, "params": {"lr": 0.3, "epochs": 5}, "metrics": {"loss": 0.2}}
    >>> table = compare_runs([a, b])
    >>> [(p["name"], p["differs"]) for p in table["params"]]
    [('epochs', False), ('lr', True)]
    >>> table["metrics"][0]["best"]
    1
    """
    if len(runs) < 2:
        raise ValueError("compare_runs needs at least two runs")
    summary = [
        {key: run.get(key) for key in ("id", "name", "kind", "status", "duration", "command")}
        for run in runs
    ]
    params = []
    for name in sorted({name for run in runs for name in run.get("params", {})}):
        values = [run.get("params", {}).get(name) for run in runs]
        params.append({"name": name, "values": values, "differs": _differ(values)})
    metrics = []
    names = []
    for run in runs:
        names += [name for name in run.get("metrics", {}) if name not in names]
    for name in names:
        values = [run.get("metrics", {}).get(name) for run in runs]
        present = [(v, i) for i, v in enumerate(values) if v is not None]
        best = None
        if present and _differ([v for v, _ in present]):
            best = (min if smaller_is_better(name) else max)(present)[1]
        metrics.append({"name": name, "values": values, "best": best, "differs": _differ(values)})
    data = []
    roles = []
    for run in runs:
        roles += [d["role"] for d in run.get("data", []) if d["role"] not in roles]
    for role in roles:
        hashes = [
            next((d.get("sha256") for d in run.get("data", []) if d["role"] == role), None)
            for run in runs
        ]
        data.append({"role": role, "sha256": hashes, "differs": _differ(hashes)})
    curves: dict[str, list] = {}
    for run in runs:
        for name in run.get("history", {}):
            curves.setdefault(name, [])
    for name in curves:
        curves[name] = [list(run.get("history", {}).get(name, [])) for run in runs]
    return {"runs": summary, "params": params, "metrics": metrics, "data": data, "curves": curves}


def _differ(values: list) -> bool:
    return any(value != values[0] for value in values[1:])
