"""save/load: round trips, atomic writes, and files that must be refused."""

import os
import pickle

import numpy as np
import pytest

import thalweg
from thalweg import nn, optim
from thalweg.files import atomic_write


def make_net(seed=0):
    return nn.Sequential(
        nn.Linear(3, 4, rng=seed), nn.LeakyReLU(0.2), nn.Linear(4, 2, rng=seed + 1)
    )


def test_module_round_trip_rebuilds_architecture_and_weights(tmp_path):
    net = make_net()
    path = tmp_path / "net.thalweg"
    thalweg.save(net, path)
    loaded = thalweg.load(path)
    assert repr(loaded) == repr(net)
    x = thalweg.tensor(np.random.default_rng(0).normal(size=(5, 3)))
    np.testing.assert_array_equal(loaded(x).data, net(x).data)
    assert loaded[1].negative_slope == 0.2


def test_custom_module_is_saved_as_weights_and_loaded_into_a_fresh_one(tmp_path):
    class Net(nn.Module):
        def __init__(self, seed):
            super().__init__()
            self.layer = nn.Linear(2, 2, rng=seed)

        def forward(self, x):
            return self.layer(x)

    path = tmp_path / "custom.thalweg"
    thalweg.save(Net(0), path)
    with pytest.raises(thalweg.FileFormatError, match="into=model"):
        thalweg.load(path)
    fresh = thalweg.load(path, into=Net(1))
    np.testing.assert_array_equal(fresh.layer.weight.data, Net(0).layer.weight.data)


def test_optimizer_round_trip_resumes_training_exactly(tmp_path):
    x = thalweg.tensor(np.random.default_rng(1).normal(size=(8, 3)))
    y = np.random.default_rng(2).normal(size=(8, 2)).astype(np.float32)

    def train(net, opt, steps):
        for _ in range(steps):
            opt.minimize(thalweg.losses.mse(net(x), y))

    net_a = make_net()
    opt_a = optim.Adam(net_a.parameters(), lr=optim.exponential_decay(0.01, 0.5, 10))
    train(net_a, opt_a, 3)
    thalweg.save(net_a, tmp_path / "m.thalweg")
    thalweg.save(opt_a, tmp_path / "o.thalweg")

    net_b = thalweg.load(tmp_path / "m.thalweg")
    opt_b = thalweg.load(tmp_path / "o.thalweg", into=optim.Adam(net_b.parameters()))
    assert opt_b.global_step == 3
    assert opt_b.lr == opt_a.lr
    train(net_a, opt_a, 4)
    train(net_b, opt_b, 4)
    for pa, pb in zip(net_a.parameters(), net_b.parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_dict_of_arrays_round_trip(tmp_path):
    arrays = {"a": np.arange(3, dtype=np.int64), "b": np.eye(2, dtype=np.float32)}
    thalweg.save(arrays, tmp_path / "x.thalweg")
    loaded = thalweg.load(tmp_path / "x.thalweg")
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/thalweg-pwned",))


@pytest.mark.parametrize(
    "content",
    [
        pickle.dumps(Exploit()),
        b"",
        b"not a model at all",
        b'\x08\x00\x00\x00\x00\x00\x00\x00{"a": 1}',
        b"\xff" * 64,
    ],
    ids=["pickle", "empty", "text", "foreign-json", "garbage"],
)
def test_files_that_are_not_thalweg_files_are_refused_and_nothing_runs(tmp_path, content):
    if os.path.exists("/tmp/thalweg-pwned"):
        os.unlink("/tmp/thalweg-pwned")
    path = tmp_path / "bad.thalweg"
    path.write_bytes(content)
    with pytest.raises(thalweg.FileFormatError, match="not a thalweg file"):
        thalweg.load(path)
    assert not os.path.exists("/tmp/thalweg-pwned")


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "net.thalweg"
    thalweg.save(make_net(), path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 3, 20):
        path.write_bytes(data[:cut])
        with pytest.raises(thalweg.FileFormatError):
            thalweg.load(path)


def test_plain_safetensors_file_without_thalweg_header_is_refused(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, str(path))
    with pytest.raises(thalweg.FileFormatError, match="no thalweg header"):
        thalweg.load(path)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(thalweg.FileFormatError, match="no such file"):
        thalweg.load(tmp_path / "nope.thalweg")


def test_optimizer_file_needs_an_optimizer_to_load_into(tmp_path):
    net = make_net()
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    thalweg.save(opt, tmp_path / "o.thalweg")
    with pytest.raises(thalweg.FileFormatError, match="into=optimizer"):
        thalweg.load(tmp_path / "o.thalweg")


def test_failed_write_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "model.thalweg"
    thalweg.save(make_net(0), path)
    good = path.read_bytes()
    with pytest.raises(RuntimeError), atomic_write(path, "wb") as handle:
        handle.write(b"half a fi")
        raise RuntimeError("interrupted")
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ["model.thalweg"]  # no temporary left behind


def test_saving_an_unsupported_object_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="cannot save"):
        thalweg.save(object(), tmp_path / "x")


def test_written_files_get_ordinary_permissions_not_private_ones(tmp_path):
    path = tmp_path / "shared.thalweg"
    umask = os.umask(0o022)
    try:
        thalweg.save(make_net(), path)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
    os.chmod(path, 0o640)
    thalweg.save(make_net(), path)  # replacing a file keeps its permissions
    assert path.stat().st_mode & 0o777 == 0o640
