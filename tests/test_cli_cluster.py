"""``thalweg cluster``, ``thalweg embed`` and ``thalweg predict`` on their models; the
clustering report, in a real browser too."""

import csv

import numpy as np
import pytest
from conftest import assert_one_line_error
from sklearn.metrics import adjusted_rand_score

from thalweg.io import write_csv
from thalweg.models.tabular import TabularModel

CORNERS = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])


def blob_table(n=240, seed=0):
    """Three blobs in (x, y) (y in thousands: different units), a text column that
    follows the blob, an id column to ignore, and the true blob."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    points = CORNERS[truth] + rng.normal(0, 0.7, (n, 2))
    return {
        "id": np.arange(n).astype(float),
        "x": points[:, 0],
        "y": points[:, 1] * 1000.0,
        "colour": np.array(["red", "green", "blue"], dtype=object)[truth],
        "blob": truth.astype(float),
    }, truth


def read_rows(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def blobs_csv(tmp_path):
    table, truth = blob_table()
    write_csv(tmp_path / "blobs.csv", table)
    return tmp_path / "blobs.csv", truth


def test_cluster_then_predict_gives_every_row_its_cluster(cli, blobs_csv):
    path, truth = blobs_csv
    result = cli("cluster", path, "--k", "3", "--ignore", "id,blob", "-o", "k.thalweg", "--json")
    assert result.code == 0, result.err
    summary = result.json
    assert summary["k"] == 3 and summary["sizes"] and sum(summary["sizes"]) == len(truth)
    assert "colour=red" in summary["features"] and "id" not in summary["columns"]
    predicted = cli("predict", "k.thalweg", path, "-o", "clusters.csv")
    assert predicted.code == 0, predicted.err
    rows = read_rows(path.parent / "clusters.csv")
    assert list(rows[0]) == ["cluster"]
    labels = np.array([int(row["cluster"]) for row in rows])
    assert adjusted_rand_score(truth, labels) >= 0.95
    model = TabularModel.load(path.parent / "k.thalweg")
    assert model.task == "clustering" and model.scaler_ is not None


def test_a_range_of_k_picks_by_silhouette_and_writes_the_report(cli, blobs_csv):
    path, _ = blobs_csv
    result = cli("cluster", path, "--k", "2..6", "--ignore", "id,blob", "--report", "r.html")
    assert result.code == 0, result.err
    assert "chose k=3: the highest mean silhouette" in result.out
    for k in range(2, 7):
        assert f"k={k}: inertia" in result.out
    page = (path.parent / "r.html").read_text()
    for anchor in ('id="view"', 'id="sizes"', 'id="centroids"', 'id="k"', 'id="model"'):
        assert anchor in page
    assert page.count("data:image/png;base64,") == 2  # the 2-D view and the k curves
    assert "all rows" in page and "colour=red" in page
    # Centroids are in the data's units: y is in thousands.
    model = TabularModel.load(path.parent / "clusters.thalweg")
    centres = model.scaler_.inverse_transform(model.estimator_.cluster_centers_)
    y_column = model.feature_names_out_.index("y")
    assert sorted(np.round(centres[:, y_column], -3).tolist()) == [0.0, 0.0, 8000.0]


def test_cluster_mistakes_are_one_line_errors(cli, blobs_csv):
    path, _ = blobs_csv
    assert_one_line_error(cli("cluster", path, "--k", "1..5"), "--k", "at least 2")
    assert_one_line_error(cli("cluster", path, "--k", "many"), "--k", "range (2..10)")
    assert_one_line_error(cli("cluster", path, "--ignore", "nope"), "--ignore nope", "not in")
    assert cli("cluster", path, "--k", "2", "--ignore", "id,blob").code == 0
    assert_one_line_error(cli("evaluate", "clusters.thalweg", path), "clustering", "predict")


def test_embed_writes_codes_and_errors_and_its_model_predicts_the_same(cli, tmp_path):
    rng = np.random.default_rng(1)
    t = rng.uniform(-1, 1, 300)
    table = {"a": t, "b": t**2, "c": np.sin(3 * t)}
    table["a"][7], table["b"][7] = 0.9, -1.0  # one row off the curve: an anomaly
    write_csv(tmp_path / "curve.csv", table)
    result = cli(
        "embed", "curve.csv", "--code-size", "1", "--hidden", "16", "--activation", "tanh",
        "--epochs", "150", "-o", "codes.csv", "--save", "coder.thalweg", "-q",
    )  # fmt: skip
    assert result.code == 0, result.err
    rows = read_rows(tmp_path / "codes.csv")
    assert list(rows[0]) == ["code_0", "reconstruction_error"] and len(rows) == 300
    errors = np.array([float(row["reconstruction_error"]) for row in rows])
    assert int(np.argmax(errors)) == 7
    again = cli("predict", "coder.thalweg", "curve.csv", "-o", "again.csv")
    assert again.code == 0, again.err
    np.testing.assert_allclose(
        [float(r["code_0"]) for r in read_rows(tmp_path / "again.csv")],
        [float(r["code_0"]) for r in rows],
    )


def test_embed_as_the_readme_shows_it_converges_without_a_warning(cli, tmp_path):
    """The README's example (wine, 178 rows: one full-batch step per epoch, about 450
    epochs to settle) finishes inside the default --epochs, so it warns of nothing."""
    assert cli("datasets", "export", "wine", "wine.csv").code == 0
    result = cli("embed", "wine.csv", "--ignore", "target", "--code-size", "2", "-o", "c.csv")
    assert result.code == 0, result.err
    assert "warning" not in result.err + result.out
    assert len(read_rows(tmp_path / "c.csv")) == 178


def test_a_failed_write_is_one_line_naming_the_file_and_nothing_is_left(cli, tmp_path, monkeypatch):
    """Disk full while writing the codes: one line with the reason and the option to
    change, and the model file written beside them is rolled back (both, or neither)."""
    import thalweg.io

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    write_csv(tmp_path / "t.csv", {"a": np.arange(40.0), "b": np.arange(40.0) ** 0.5})
    monkeypatch.setattr(thalweg.io, "write_csv", disk_full)
    result = cli("embed", "t.csv", "--save", "m.thalweg", "-o", "codes.csv", "-q")
    assert_one_line_error(
        result, "cannot write codes.csv (No space left on device)", "choose another -o"
    )
    assert not (tmp_path / "m.thalweg").exists() and not (tmp_path / "codes.csv").exists()


def test_unsupervised_table_model_round_trip_and_missing_values(tmp_path):
    from thalweg.models import KMeans

    table, _ = blob_table(n=120)
    table["x"][:3] = np.nan
    del table["blob"], table["id"]
    model = TabularModel(KMeans(3, random_state=0), missing="mean", scale=True).fit(table)
    assert model.n_dropped_ == 0 and model.fill_values_["x"] == pytest.approx(
        np.nanmean(table["x"])
    )
    model.save(tmp_path / "m.thalweg")
    loaded = TabularModel.load(tmp_path / "m.thalweg")
    np.testing.assert_array_equal(
        loaded.prediction_table(table)["cluster"], model.prediction_table(table)["cluster"]
    )
    assert loaded.score(table) == pytest.approx(model.score(table))
    dropped = TabularModel(KMeans(3, random_state=0), missing="drop", scale=True).fit(table)
    assert dropped.n_dropped_ == 3
    assert dropped.prediction_table(table)["cluster"][:3].tolist() == [None, None, None]


def test_cluster_report_renders_in_headless_chromium(tmp_path):
    from test_report import INSTALL_HINT, DevTools, check_page, find_chromium, open_in_chromium

    from thalweg.models.table_clustering import cluster_table
    from thalweg.report.clustering import cluster_report, write_cluster_report

    binary = find_chromium()
    if binary is None:
        pytest.fail(INSTALL_HINT)
    table, _ = blob_table()
    result = cluster_table(table, ks=[2, 3, 4], ignore=["id", "blob"])
    report = cluster_report(result, title="<blobs> & co", source="blobs.csv")
    path = write_cluster_report(tmp_path / "clusters.html", report)
    assert "&lt;blobs&gt; &amp; co" in path.read_text()  # escaped, never a tag
    browser = DevTools(binary, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        page = open_in_chromium(browser, path)
    finally:
        browser.close()
    check_page("clusters", page, expected_images=2)


def test_the_model_server_predicts_clusters_and_refuses_an_autoencoder(tmp_path):
    from thalweg.errors import DataError
    from thalweg.models.table_clustering import cluster_table, embed_table
    from thalweg.serving.predictor import Predictor

    table, truth = blob_table(n=150)
    del table["id"], table["blob"]
    cluster_table(table, k=3).save(tmp_path / "k.thalweg")
    predictor = Predictor(tmp_path / "k.thalweg")
    answer = predictor.predict(table)
    assert adjusted_rand_score(truth, answer.predictions) >= 0.95
    assert predictor.describe()["task"] == "clustering"
    embed_table(table, code_size=1, max_epochs=5, tol=None).save(tmp_path / "ae.thalweg")
    with pytest.raises(DataError, match="thalweg predict"):
        Predictor(tmp_path / "ae.thalweg")
