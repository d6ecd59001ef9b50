"""KMeans against brute force and against scikit-learn's KMeans / MiniBatchKMeans."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.cluster import MiniBatchKMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score as sklearn_ari

from thalweg.data import stream
from thalweg.errors import DataError
from thalweg.models import EmptyClusterWarning, KMeans, load_model
from thalweg.models import centers as kernels


def brute_force_labels(X, centers):
    distances = ((X[:, None, :].astype(np.float64) - centers[None, :, :]) ** 2).sum(axis=2)
    return distances.argmin(axis=1), distances.min(axis=1)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    d=st.integers(1, 6),
    k=st.integers(1, 9),
    duplicate=st.booleans(),
    float32=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_nearest_center_matches_brute_force_argmin_and_sums(n, d, k, duplicate, float32, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32 if float32 else np.float64)
    centers = rng.normal(size=(k, d))
    if duplicate and k > 1:
        centers[-1] = centers[0]  # exact ties: the first index must win, as argmin
    labels, sums, counts = kernels.NearestCenter(centers, X.dtype).assign(X, with_sums=True)
    expected, _ = brute_force_labels(X, centers)
    # Rows whose two nearest distinct centres are this close may go either way in float32.
    distinct = np.unique(centers, axis=0)
    gaps = np.diff(np.sort(((X[:, None, :] - distinct[None]) ** 2).sum(2), axis=1)[:, :2])
    clear = gaps.ravel() > 1e-3 if len(distinct) > 1 else np.ones(n, bool)
    assert (labels[clear] == expected[clear]).all()
    if duplicate and k > 1:
        assert not (labels == k - 1).any()  # a tie goes to the first centre, as argmin
    np.testing.assert_allclose(
        sums, np.stack([X[labels == c].sum(0) for c in range(k)]), rtol=1e-5, atol=1e-4
    )
    np.testing.assert_array_equal(counts, np.bincount(labels, minlength=k))


def test_assignment_far_from_the_origin_stays_exact_in_float32():
    rng = np.random.default_rng(0)
    truth = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    labels = rng.integers(0, 3, 3000)
    X = (1e4 + truth[labels] + 0.3 * rng.normal(size=(3000, 2))).astype(np.float32)
    model = KMeans(3, init=(1e4 + truth).astype(np.float32), n_init=1).fit(X)
    assert model.origin_ is not None  # the mean is subtracted block by block
    expected, _ = brute_force_labels(X.astype(np.float64) - 1e4, model.cluster_centers_ - 1e4)
    assert (model.labels_ == expected).mean() == 1.0
    assert sklearn_ari(labels, model.labels_) > 0.95


def test_lloyd_from_the_same_seeds_matches_sklearn_exactly():
    X, _ = make_blobs(600, 4, centers=5, cluster_std=2.5, random_state=0)
    seeds = X[:5].copy()
    for tol in (1e-4, 1e-2):
        ours = KMeans(5, init=seeds, n_init=1, tol=tol).fit(X)
        theirs = SklearnKMeans(5, init=seeds, n_init=1, tol=tol).fit(X)
        np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-10)
        np.testing.assert_array_equal(ours.labels_, theirs.labels_)
        assert ours.n_iter_ == theirs.n_iter_
        assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-12)


def test_inertia_transform_score_and_predict_are_what_they_say():
    X, _ = make_blobs(300, 3, centers=4, random_state=1)
    model = KMeans(4, random_state=0).fit(X)
    labels, distances = brute_force_labels(X, model.cluster_centers_)
    np.testing.assert_array_equal(model.labels_, labels)
    np.testing.assert_array_equal(model.predict(X), labels)
    assert model.inertia_ == pytest.approx(distances.sum(), rel=1e-12)
    assert model.score(X) == pytest.approx(-distances.sum(), rel=1e-12)
    expected = np.sqrt(((X[:, None] - model.cluster_centers_[None]) ** 2).sum(2))
    np.testing.assert_allclose(model.transform(X), expected, atol=1e-9)
    X32 = X.astype(np.float32)
    model32 = KMeans(4, random_state=0).fit(X32)
    assert model32.cluster_centers_.dtype == np.float32
    assert model32.transform(X32).dtype == np.float32


def test_kmeans_plusplus_spreads_seeds_over_separated_blobs():
    X, y = make_blobs(2000, 2, centers=6, cluster_std=0.2, center_box=(-50, 50), random_state=3)
    seeds = kernels.kmeans_plusplus(X, 6, np.random.default_rng(0), kernels.row_norms(X))
    seed_blobs = brute_force_labels(seeds, np.stack([X[y == c].mean(0) for c in range(6)]))[0]
    assert sorted(seed_blobs.tolist()) == list(range(6))  # one seed in every blob


@pytest.mark.parametrize("algorithm", ["lloyd", "minibatch"])
def test_well_separated_blobs_are_recovered(algorithm):
    X, y = make_blobs(3000, 5, centers=5, cluster_std=1.0, random_state=2)
    model = KMeans(5, algorithm=algorithm, batch_size=256, random_state=0).fit(X)
    assert sklearn_ari(y, model.labels_) >= 0.95
    reference = SklearnKMeans(5, random_state=0).fit(X).inertia_
    # Mini-batch centres average every row they ever absorbed: slightly worse than Lloyd's.
    assert model.inertia_ <= (1.01 if algorithm == "lloyd" else 1.03) * reference


def test_minibatch_partial_fit_matches_sklearn_step_for_step():
    X, _ = make_blobs(1000, 3, centers=4, random_state=4)
    seeds = X[:4].copy()
    ours, theirs = KMeans(4, init=seeds, n_init=1), MiniBatchKMeans(4, init=seeds, n_init=1)
    for start in range(0, 1000, 100):
        ours.partial_fit(X[start : start + 100])
        theirs.partial_fit(X[start : start + 100])
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-10)
    np.testing.assert_array_equal(ours.counts_, theirs._counts)
    np.testing.assert_array_equal(seeds, X[:4])  # the init array is never moved


def test_minibatch_step_makes_each_centre_the_running_mean_of_its_rows():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [10.0, 10.0]])
    counts = np.zeros(2, np.int64)
    seen = [[], []]
    for _ in range(5):
        batch = np.vstack([rng.normal(0, 1, (7, 2)), rng.normal(10, 1, (3, 2))])
        _, _, labels = kernels.minibatch_step(batch, centers, counts)
        for c in range(2):
            seen[c].append(batch[labels == c])
    for c in range(2):
        # Learning rate 1/count from the first step on: the seed itself is forgotten.
        np.testing.assert_allclose(centers[c], np.vstack(seen[c]).mean(0), atol=1e-12)
    np.testing.assert_array_equal(counts, [35, 15])


def test_an_empty_cluster_is_reseeded_with_a_warning():
    X, _ = make_blobs(200, 2, centers=3, random_state=5)
    seeds = np.vstack([X[:2], [[1e3, 1e3]]])  # the last seed is nowhere near any row
    with pytest.warns(EmptyClusterWarning, match="reseeded"):
        model = KMeans(3, init=seeds, n_init=1).fit(X)
    assert np.bincount(model.labels_, minlength=3).min() > 0
    assert np.abs(model.cluster_centers_).max() < 100


@pytest.mark.filterwarnings("ignore:.*became empty")
def test_duplicate_rows_warn_that_fewer_clusters_exist():
    X = np.repeat([[0.0, 0.0], [5.0, 5.0]], 10, axis=0)
    with pytest.warns(EmptyClusterWarning, match="distinct"):
        KMeans(3, random_state=0).fit(X)


def test_n_init_keeps_the_lowest_inertia_and_random_state_repeats():
    X, _ = make_blobs(500, 2, centers=8, cluster_std=2.0, random_state=6)
    one = [KMeans(8, init="random", n_init=1, random_state=s).fit(X).inertia_ for s in range(5)]
    best = KMeans(8, init="random", n_init=10, random_state=0).fit(X).inertia_
    assert best <= min(one) + 1e-9 or best <= np.median(one)
    a, b = KMeans(8, random_state=3).fit(X), KMeans(8, random_state=3).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_fit_stream_without_a_target_matches_an_in_memory_fit(tmp_path):
    X, _ = make_blobs(4000, 3, centers=4, random_state=7)
    np.save(tmp_path / "rows.npy", X)
    rows = stream(tmp_path / "rows.npy", target=None, batch_size=200, seed=0, epochs=2)
    assert next(iter(rows))[1] is None
    model = KMeans(4, random_state=0).fit_stream(rows)
    full = KMeans(4, random_state=0).fit(X)
    assert model.n_features_in_ == 3 and not hasattr(model, "labels_")
    assert model.inertia_ == pytest.approx(-model.score(X), rel=1e-4)
    assert model.inertia_ <= 1.01 * full.inertia_


def test_model_file_round_trip_predicts_the_same(tmp_path):
    X, _ = make_blobs(300, 4, centers=3, random_state=8)
    model = KMeans(3, algorithm="minibatch", random_state=0).fit(X)
    model.save(tmp_path / "k.thalweg")
    loaded = load_model(tmp_path / "k.thalweg")
    assert isinstance(loaded, KMeans) and loaded.algorithm == "minibatch"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.counts_, model.counts_)
    loaded.partial_fit(X[:50])  # training continues from the saved counts


def test_bad_settings_and_too_few_rows_are_clear_errors():
    X = np.zeros((3, 2))
    with pytest.raises(DataError, match="n_samples=3 should be >= n_clusters=5"):
        KMeans(5).fit(X)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        KMeans(2, algorithm="elkan").fit(X)
    with pytest.raises(DataError, match="init has shape"):
        KMeans(2, init=np.zeros((3, 2))).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="NaN"):
            KMeans(1).fit([[np.nan, 1.0]])


def test_select_k_finds_the_number_of_blobs_and_says_why():
    from thalweg.models.k_selection import elbow, select_k

    corners = [[0, 0], [10, 0], [0, 10], [10, 10]]
    X, _ = make_blobs(600, 2, centers=corners, cluster_std=1.0, random_state=9)
    scan = select_k(X, range(2, 8), silhouette_rows=300)
    assert scan.chosen == 4 and scan.sampled and scan.silhouette_rows == 300
    assert scan.reason.startswith("the highest mean silhouette")
    assert "sample of 300 of 600 rows" in scan.reason
    assert scan.inertias == sorted(scan.inertias, reverse=True)  # more centres, less inertia
    assert scan.models[4].n_clusters == 4
    assert elbow([2, 3, 4, 5, 6], [50.0, 30.0, 5.0, 4.0, 3.5]) == 4
    with pytest.raises(DataError, match="at least 2"):
        select_k(X, [1, 2])


def test_threaded_scans_give_the_single_threaded_answer(monkeypatch):
    X, _ = make_blobs(20_000, 6, centers=5, random_state=10)
    centers = X[:5].copy()
    finder = kernels.NearestCenter(centers, X.dtype)
    monkeypatch.setattr(kernels, "thread_count", lambda: 1)
    one = finder.assign(X, with_sums=True)
    monkeypatch.setattr(kernels, "thread_count", lambda: 4)
    assert len(kernels.in_parallel(len(X), 100, lambda a, b: (a, b))) == 4
    four = finder.assign(X, with_sums=True)
    np.testing.assert_array_equal(one[0], four[0])
    np.testing.assert_allclose(one[1], four[1], rtol=1e-12)
    np.testing.assert_array_equal(one[2], four[2])


def test_a_forked_child_clusters_with_a_pool_of_its_own():
    import multiprocessing

    X, _ = make_blobs(60_000, 4, centers=3, random_state=11)  # enough rows for threads
    parent = KMeans(3, random_state=0).fit(X)  # the parent's scans start the thread pool
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        child = pool.apply_async(_fit_labels, (X,)).get(timeout=60)
    np.testing.assert_array_equal(child, parent.labels_)


def _fit_labels(X):
    return KMeans(3, random_state=0).fit(X).labels_


def test_partial_fit_reports_the_batch_against_the_moved_centres():
    X, _ = make_blobs(300, 2, centers=3, random_state=12)
    ours = KMeans(3, init=X[:3].copy(), n_init=1).partial_fit(X[:150]).partial_fit(X[150:])
    theirs = MiniBatchKMeans(3, init=X[:3].copy(), n_init=1).partial_fit(X[:150])
    theirs.partial_fit(X[150:])
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)
