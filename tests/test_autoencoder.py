"""Autoencoder: what it learns (PCA's subspace when linear), what it reports, its file."""

import numpy as np
import pytest

import thalweg
from thalweg.errors import ShapeError
from thalweg.models import Autoencoder, load_model


def curve(n=400, seed=0):
    """Rows on a 1-D curve in 4-D: one hidden factor behind four columns."""
    t = np.random.default_rng(seed).uniform(-1, 1, (n, 1))
    return np.hstack([t, t**2, np.sin(3 * t), -0.5 * t])


def test_a_linear_autoencoder_reconstructs_as_well_as_pca():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))  # correlated columns
    model = Autoencoder(
        hidden=(), code_size=2, activation="linear", max_epochs=400, tol=None, random_state=0
    ).fit(X)
    Z = model.scaler_.transform(X)
    # PCA's optimum: the variance outside the top 2 principal directions.
    eigenvalues = np.linalg.eigvalsh(np.cov(Z, rowvar=False, bias=True))[::-1]
    pca_error = eigenvalues[2:].sum() / Z.shape[1]
    ours = model.reconstruction_error(X).mean()
    assert pca_error <= ours <= 1.02 * pca_error


def test_codes_rebuild_the_rows_and_errors_are_per_row_mse():
    X = curve()
    model = Autoencoder(hidden=(16,), code_size=1, activation="tanh", random_state=0).fit(X)
    codes = model.transform(X)
    assert codes.shape == (400, 1) and codes.dtype == np.float64
    rebuilt = model.inverse_transform(codes)
    standardized = model.scaler_.transform
    expected = np.mean((standardized(rebuilt) - standardized(X)) ** 2, axis=1)
    np.testing.assert_allclose(model.reconstruction_error(X), expected, rtol=1e-6, atol=1e-9)
    assert expected.mean() < 0.05  # one code unit is enough for a curve
    np.testing.assert_allclose(model.score_samples(X), -expected, rtol=1e-6, atol=1e-9)
    assert model.score(X) == pytest.approx(-expected.mean(), rel=1e-6)
    with pytest.raises(ShapeError, match="codes must have shape"):
        model.inverse_transform(np.zeros((3, 2)))


def test_reconstruction_error_flags_rows_unlike_the_training_rows():
    X = curve()
    model = Autoencoder(hidden=(16,), code_size=1, activation="tanh", random_state=0).fit(X)
    off_curve = np.array([[0.5, -0.8, 0.0, 0.9], [-0.5, 1.0, 1.0, 0.5]])
    typical = model.reconstruction_error(X)
    assert model.reconstruction_error(off_curve).min() > np.quantile(typical, 0.99)


def test_gaussian_noise_is_added_only_while_training_and_passes_gradients():
    layer = thalweg.nn.GaussianNoise(0.5, rng=0)
    x = thalweg.tensor(np.zeros((1000, 3), np.float32), requires_grad=True)
    noisy = layer(x)
    assert 0.45 < noisy.data.std() < 0.55
    noisy.sum().backward()
    np.testing.assert_array_equal(x.grad, 1.0)  # d(x + noise)/dx = 1
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, 0.0)


def test_a_denoising_autoencoder_pulls_noisy_rows_back_to_the_curve():
    X = curve(n=600)
    model = Autoencoder(
        hidden=(32,),
        code_size=1,
        activation="tanh",
        noise=0.2,
        tol=None,
        max_epochs=300,
        random_state=0,
    ).fit(X)
    plain = Autoencoder(hidden=(32,), code_size=1, activation="tanh", random_state=0).fit(X)
    assert not np.allclose(model.transform(X), plain.transform(X))  # the noise was used
    np.testing.assert_array_equal(model.transform(X), model.transform(X))  # not at predict
    noisy = X + np.random.default_rng(5).normal(0, 0.1, X.shape)
    denoised = model.inverse_transform(model.transform(noisy))
    assert np.mean((denoised - X) ** 2) < 0.5 * np.mean((noisy - X) ** 2)


def test_model_file_round_trip_and_partial_fit(tmp_path):
    X = curve()
    model = Autoencoder(
        hidden=(8,), code_size=2, max_epochs=20, tol=None, noise=0.1, random_state=0
    )
    model.fit(X)
    model.save(tmp_path / "ae.thalweg")
    loaded = load_model(tmp_path / "ae.thalweg")
    assert isinstance(loaded, Autoencoder) and loaded.code_size == 2
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    epochs, loss = model.n_iter_, model.loss_
    model.partial_fit(X)  # one more epoch, same optimizer
    assert model.n_iter_ == epochs + 1
    assert model.loss_ != loss


def test_fit_stream_on_rows_without_a_target(tmp_path):
    from thalweg.data import stream

    X = curve(n=2000)
    np.save(tmp_path / "rows.npy", X)
    rows = stream(tmp_path / "rows.npy", target=None, batch_size=100, seed=0, epochs=40)
    model = Autoencoder(hidden=(16,), code_size=1, activation="tanh", random_state=0)
    model.fit_stream(rows)
    assert model.n_features_in_ == 4 and 1 < model.n_iter_ <= 40
    np.testing.assert_allclose(model.scaler_.mean_, X.mean(axis=0), rtol=1e-5)
    assert model.reconstruction_error(X).mean() < 0.05
