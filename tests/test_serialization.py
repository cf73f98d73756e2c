"""state_dict, load_state_dict and save/load to .npz: bit-exact round trips, strict key checks
naming every problem at once, and files that are refused (pickle, object arrays, NaN, not npz)."""
import io
import pickle
import zipfile

import numpy as np
import pytest

from minicv import Tensor, backend, nn


def _model(seed):
    nn.init.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def _trained(seed=0):
    """A model whose BatchNorm buffers have moved away from their defaults."""
    model = _model(seed)
    x = np.random.default_rng(seed).normal(size=(8, 3)).astype(np.float32)
    for _ in range(2):
        model(Tensor(x))
    return model


def _assert_same_state(a, b):
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_state_dict_keys_order_and_copies():
    model = _trained()
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                           "1.running_var", "1.num_batches_tracked", "3.weight", "3.bias"]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert state["1.num_batches_tracked"] == 2 and state["1.num_batches_tracked"].dtype == np.int64
    state["0.weight"][...] = 0                       # a copy: the model is untouched
    assert np.abs(model[0].weight.data).sum() > 0


def test_save_load_round_trip_is_bit_exact(tmp_path):
    source, target = _trained(0), _model(1)
    path = tmp_path / "model.npz"
    source.save(path)
    weight = target[0].weight
    result = target.load(path)
    assert result.missing_keys == [] and result.unexpected_keys == []
    _assert_same_state(target.state_dict(), source.state_dict())
    assert target[0].weight is weight                # loaded in place
    x = np.random.default_rng(9).normal(size=(5, 3)).astype(np.float32)
    source.eval(), target.eval()
    np.testing.assert_array_equal(target(x).data, source(x).data)


def test_save_writes_exactly_the_given_path(tmp_path):
    path = tmp_path / "checkpoint.weights"
    _model(0).save(str(path))
    assert path.exists() and not (tmp_path / "checkpoint.weights.npz").exists()
    assert zipfile.is_zipfile(path)


def test_float64_model_round_trip(tmp_path):
    model = nn.Linear(3, 2, dtype=np.float64)
    model.save(tmp_path / "m.npz")
    other = nn.Linear(3, 2, dtype=np.float64)
    other.load(tmp_path / "m.npz")
    _assert_same_state(other.state_dict(), model.state_dict())


def test_load_state_dict_casts_to_the_parameter_dtype():
    model = nn.Linear(2, 2)
    state = {k: v.astype(np.float64) + 0.5 for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert model.weight.dtype == np.float32
    np.testing.assert_array_equal(model.weight.data, state["weight"].astype(np.float32))
    model.load_state_dict({"weight": Tensor(np.ones((2, 2))), "bias": [1.0, 2.0]})
    np.testing.assert_array_equal(model.bias.data, [1.0, 2.0])


def test_strict_load_names_every_bad_key_at_once():
    model = _model(0)
    state = model.state_dict()
    del state["1.running_var"], state["3.bias"]              # missing
    state["4.weight"] = np.zeros(2, dtype=np.float32)        # unexpected
    state["0.weight"] = np.zeros((3, 4), dtype=np.float32)   # transposed: mis-shaped
    before = model.state_dict()
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert message.startswith("Sequential.load_state_dict: ")
    assert "missing keys ['1.running_var', '3.bias']" in message
    assert "unexpected keys ['4.weight']" in message
    assert "'0.weight' has shape (3, 4) in the state but (4, 3) in the model" in message
    _assert_same_state(model.state_dict(), before)          # nothing was loaded


def test_non_strict_load_reports_but_still_refuses_bad_shapes():
    model = _model(0)
    state = model.state_dict()
    del state["3.bias"]
    state["extra"] = np.zeros(1)
    state["0.bias"] = state["0.bias"] + 1
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["3.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[0].bias.data, state["0.bias"])
    state["0.bias"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"mismatched keys: '0.bias' has shape \(5,\) in the "
                                         r"state but \(4,\) in the model"):
        model.load_state_dict(state, strict=False)


def test_object_arrays_in_a_state_are_refused():
    model = nn.Linear(1, 1)
    bad = np.empty((1, 1), dtype=object)
    with pytest.raises(ValueError, match="'weight' has dtype object, not a numeric dtype"):
        model.load_state_dict({"weight": bad, "bias": np.zeros(1)})


# ---------------------------------------------------------------------------------------------
# Files that are refused
# ---------------------------------------------------------------------------------------------
def _npz_with(path, arrays):
    """Write an npz by hand, member by member, so that any array -- pickled ones included --
    can be put in it (np.save with allow_pickle=True into the zip)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, value, allow_pickle=True)
            archive.writestr(f"{name}.npy", buffer.getvalue())


def test_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    payload = np.array([{"weight": 1}], dtype=object)
    _npz_with(path, {"weight": payload, "bias": np.zeros(1, dtype=np.float32)})
    model = nn.Linear(1, 1)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"evil\.npz: key 'weight' cannot be loaded without "
                                         r"pickle"):
        model.load(path)
    _assert_same_state(model.state_dict(), before)


def test_a_plain_pickle_file_is_refused(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"weight": np.zeros((1, 1))}))
    with pytest.raises(ValueError, match=r"model\.pkl: not a valid \.npz file \(not a zip "
                                         r"archive; minicv never reads pickle files\)"):
        nn.Linear(1, 1).load(path)


@pytest.mark.parametrize("content", [b"not an archive at all", b"PK\x03\x04 truncated zip"])
def test_garbage_is_refused(tmp_path, content):
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"garbage\.npz: not a valid \.npz file"):
        nn.Linear(1, 1).load(path)


def test_a_single_npy_is_refused(tmp_path):
    path = tmp_path / "weight.npy"
    np.save(path, np.zeros((1, 1)))
    with pytest.raises(ValueError, match=r"weight\.npy: not a valid \.npz file \(it holds a "
                                         r"single \.npy array\)"):
        nn.Linear(1, 1).load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.Linear(1, 1).load(tmp_path / "nowhere.npz")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused_on_load(tmp_path, bad):
    path = tmp_path / "diverged.npz"
    np.savez(path, weight=np.array([[bad]], dtype=np.float32), bias=np.zeros(1, np.float32))
    with pytest.raises(ValueError, match=r"diverged\.npz: key 'weight' holds 1 non-finite "
                                         r"value\(s\)"):
        nn.Linear(1, 1).load(path)


def test_non_finite_values_are_refused_on_save(tmp_path):
    model = nn.Linear(2, 2)
    model.bias.data[1] = np.nan
    path = tmp_path / "diverged.npz"
    with pytest.raises(ValueError, match=r"diverged\.npz: key 'bias' holds 1 non-finite"):
        model.save(path)
    assert not path.exists()


def test_file_with_wrong_keys_is_named_in_the_error(tmp_path):
    path = tmp_path / "other.npz"
    nn.Linear(2, 3).save(path)
    with pytest.raises(ValueError, match=r"'weight' has shape \(3, 2\) in the state but \(2, 2\)"):
        nn.Linear(2, 2).load(path)
    result = nn.Sequential(nn.Linear(2, 3)).load(path, strict=False)
    assert result.missing_keys == ["0.weight", "0.bias"]
    assert result.unexpected_keys == ["weight", "bias"]


@pytest.mark.gpu
def test_gpu_model_round_trip(tmp_path):
    if not backend.gpu_available():
        pytest.skip("no usable GPU here (CuPy missing or no device visible)")
    source = _trained(0).to("gpu")
    source.save(tmp_path / "gpu.npz")
    target = _model(1).to("gpu")
    target.load(tmp_path / "gpu.npz")
    assert {p.device for p in target.parameters()} == {"gpu"}          # kept its device
    assert backend.device_of(target[1].running_mean) == "gpu"
    _assert_same_state(target.state_dict(), source.state_dict())
    cpu = _model(2)
    cpu.load_state_dict(source.state_dict())
    assert {p.device for p in cpu.parameters()} == {"cpu"}
    _assert_same_state(cpu.state_dict(), source.state_dict())
