"""Measure what thalweg makes of columns as real tables have them (docs/cli.md, "What
becomes of each column").

Two tables built in the shape of public ones (the generators below; nothing is
downloaded):

* a daily weather table, 2012-01-01 to 2015-12-31 (1,461 rows): ``date`` (ISO text),
  ``precipitation``, ``temp_max``, ``temp_min``, ``wind`` and a 5-class ``weather``
  driven by the season and the rain;
* a cars table (406 rows): a ``name`` on nearly every row, a ``model`` column of 300
  models (a few common, most seen once or twice), ``cylinders``, ``weight``, ``year``,
  ``origin`` and ``mpg`` to predict.

Each is trained with ``thalweg train`` as a user would (defaults: a 60/20/20 split,
seed 0) and with flags that give the old handling: the date one-hot encoded
(``--categorical date --keep date --min-frequency 1``), the name kept with every
category its own input (``--keep name --min-frequency 1``). Numbers are the test
split's.

Run: ``.venv/bin/python docs/scripts/columns.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from thalweg.io import write_csv

WEATHER = np.array(["drizzle", "fog", "rain", "snow", "sun"])


def weather_table(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    day = np.arange(1461)
    winter = np.cos(2 * np.pi * (day - 15) / 365.25)  # 1 in mid-January, -1 in mid-July
    temp_max = 16 - 8 * winter + rng.normal(0, 3, len(day))
    wet = rng.random(len(day)) < 0.45 + 0.3 * winter
    precipitation = np.where(wet, rng.gamma(1.2, 4, len(day)), 0.0)
    logits = np.column_stack(
        [
            -1.5 + 0.3 * winter,  # drizzle
            -1.0 - 0.5 * winter,  # fog
            -0.5 + 0.5 * precipitation + 0.6 * winter,  # rain
            -2.5 + 0.3 * precipitation - 0.6 * (temp_max - 8),  # snow
            1.2 - 1.0 * precipitation - 1.0 * winter,  # sun
        ]
    )
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(WEATHER, p=p) for p in probabilities], dtype=object)
    dates = np.datetime64("2012-01-01") + day
    return {
        "date": np.array([str(d) for d in dates], dtype=object),
        "precipitation": precipitation.round(1),
        "temp_max": temp_max.round(1),
        "temp_min": (temp_max - rng.uniform(4, 10, len(day))).round(1),
        "wind": rng.gamma(3, 1.2, len(day)).round(1),
        "weather": labels,
    }


def cars_table(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = 406
    popularity = 1 / np.arange(1, 301) ** 1.1
    model = rng.choice([f"model {k}" for k in range(300)], n, p=popularity / popularity.sum())
    cylinders = rng.choice([4, 6, 8], n, p=[0.5, 0.2, 0.3])
    weight = (1500 + 350 * cylinders + rng.normal(0, 300, n)).round()
    year = rng.integers(70, 83, n)
    origin = np.where(cylinders == 4, rng.choice(["usa", "europe", "japan"], n), "usa")
    mpg = 46 - 0.0075 * weight + 0.75 * (year - 70) + 2.5 * (origin != "usa")
    names = [
        f"{m} {rng.choice(['custom', 'deluxe', 'sw', 'brougham'])} {i}" for i, m in enumerate(model)
    ]
    return {
        "name": np.array(names, dtype=object),
        "model": model.astype(object),
        "cylinders": cylinders,
        "weight": weight,
        "year": year,
        "origin": origin.astype(object),
        "mpg": (mpg + rng.normal(0, 2.5, n)).round(1),
    }


def train(path: Path, target: str, *flags: str) -> dict:
    command = [sys.executable, "-m", "thalweg", "train", str(path), "--target", target]
    out = path.with_suffix(".thalweg")
    done = subprocess.run(
        [*command, *flags, "-o", str(out), "--json"], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        weather = weather_table()
        write_csv(folder / "weather.csv", weather)
        write_csv(folder / "day.csv", {k: weather[k] for k in ("date", "weather")})
        one_hot = ["--categorical", "date", "--keep", "date", "--min-frequency", "1"]
        print("weather (1,461 days, 5 classes): test accuracy / log loss / majority baseline")
        for table, columns in (("weather.csv", "all columns"), ("day.csv", "the date only")):
            for model in ("mlp", "auto"):
                for how, flags in (("date one-hot (old)", one_hot), ("date → calendar", [])):
                    result = train(folder / table, "weather", "--model", model, *flags)
                    metrics = result["metrics"]["test"]
                    print(
                        f"  {columns}, --model {model}, {how}: accuracy "
                        f"{metrics['accuracy']:.3f}, log loss {metrics['log_loss']:.3f}, "
                        f"baseline {metrics['baseline_accuracy']:.3f} "
                        f"({result['epochs_run']} epochs)"
                    )
        cars = cars_table()
        write_csv(folder / "cars.csv", cars)
        print("cars (406 rows, mpg): test R²")
        for how, flags in (
            ("without name and model (--ignore name,model)", ["--ignore", "name,model"]),
            (
                "name and model one-hot, every value (old)",
                ["--keep", "name", "--min-frequency", "1"],
            ),
            ("defaults: name left out, rare models share 'other'", []),
        ):
            for model in ("auto", "mlp"):
                result = train(folder / "cars.csv", "mpg", "--model", model, *flags)
                print(f"  {how}, --model {model}: R² {result['metrics']['test']['r2']:.3f}")
        became = {c["name"]: c["became"] for c in train(folder / "cars.csv", "mpg")["columns"]}
        print("cars, what each column became:")
        for name, what in became.items():
            print(f"  {name}: {what}")


if __name__ == "__main__":
    main()
