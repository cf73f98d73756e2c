"""minicv.engine: checkpoints, the training loop and `minicv train | eval | predict`."""
import json

import numpy as np
import pytest

from minicv import models, optim
from minicv.cli import main
from minicv.engine import (CheckpointError, TrainConfig, fit, load_checkpoint, predict,
                           save_checkpoint, train_step)
from minicv.engine.segmentation import (DEFAULT_EPOCHS, DEFAULT_LR, UNLIMITED, class_weights,
                                       make_datasets, parse_size, resolve_defaults)
from minicv.metrics import SegmentationMetrics, stride_oracle
from minicv.nn import init

TINY = ["--size", "32", "--num-images", "16", "--val-images", "8", "--batch-size", "8"]


def _model(name="fcn8s", num_classes=3):
    init.manual_seed(0)
    return models.get_model(name, num_classes)


def _meta(model, **extra):
    from dataclasses import asdict
    return {"model": model.name, "num_classes": 3, "config": asdict(model.config), **extra}


def _batch(seed=0, n=2, size=32):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 3, size, size)).astype(np.float32),
            rng.integers(0, 3, size=(n, size, size)))


def test_checkpoint_round_trip_restores_model_and_optimizer(tmp_path):
    model = _model()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    images, masks = _batch()
    train_step(model, opt, images, masks)
    save_checkpoint(tmp_path / "a.npz", model, _meta(model, epoch=1, classes=["a", "b", "c"]),
                    opt)
    ckpt = load_checkpoint(tmp_path / "a.npz")
    assert ckpt.meta["epoch"] == 1 and ckpt.meta["classes"] == ["a", "b", "c"]
    again = ckpt.build_model()
    model.eval(), again.eval()
    np.testing.assert_array_equal(predict(model, images), predict(again, images))
    # one more step from the restored optimiser equals one more step of the original
    opt2 = optim.Adam(again.parameters(), lr=1e-3)
    opt2.load_state_dict(ckpt.optimizer_state)
    model.train(), again.train()
    train_step(model, opt, images, masks)
    train_step(again, opt2, images, masks)
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=name)


def test_checkpoint_refuses_other_files_and_other_models(tmp_path):
    model = _model()
    model.save(tmp_path / "weights.npz")
    with pytest.raises(CheckpointError, match=r"weights.npz: not a minicv checkpoint \(no 'meta'"):
        load_checkpoint(tmp_path / "weights.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match=r"junk.npz: not a valid .npz file"):
        load_checkpoint(tmp_path / "junk.npz")
    save_checkpoint(tmp_path / "c.npz", model, _meta(model))
    ckpt = load_checkpoint(tmp_path / "c.npz")
    with pytest.raises(CheckpointError, match=r"c.npz: checkpoint is for model 'fcn8s', not "
                                              r"'segnet'"):
        ckpt.check_model("segnet")
    with pytest.raises(CheckpointError, match=r"c.npz: checkpoint has 3 classes but the data "
                                              r"has 5"):
        ckpt.check_model("fcn8s", 5)
    bad = dict(ckpt.meta, format="other/9")
    arrays = {f"model/{k}": v for k, v in ckpt.model_state.items()}
    arrays["meta"] = np.frombuffer(json.dumps(bad).encode(), np.uint8)
    np.savez(tmp_path / "other.npz", **arrays)
    with pytest.raises(CheckpointError, match=r"other.npz: not a minicv-checkpoint/1 checkpoint "
                                              r"\(format 'other/9'\)"):
        load_checkpoint(tmp_path / "other.npz")
    with pytest.raises(ValueError, match=r"save_checkpoint: meta needs 'config'"):
        save_checkpoint(tmp_path / "d.npz", model, {"model": "fcn8s", "num_classes": 3})


def test_a_diverged_model_is_not_saved(tmp_path):
    model = _model()
    next(iter(model.parameters())).data[...] = np.nan
    with pytest.raises(ValueError, match=r"d.npz: key 'model/.*' holds non-finite values"):
        save_checkpoint(tmp_path / "d.npz", model, _meta(model))
    assert not (tmp_path / "d.npz").exists()


def test_median_frequency_weights_by_hand():
    class Two:
        def __len__(self):
            return 2

        def __getitem__(self, i):
            masks = [np.array([[0, 0, 0, 1]]), np.array([[0, 0, 2, 9]])]
            return None, {"mask": masks[i]}
    # f0 = 5/7 (both images, 3+4 valid px... image 2 has 3 valid px), f1 = 1/4, f2 = 1/3
    w = class_weights(Two(), 3, ignore_index=9)
    f = np.array([5 / 7, 1 / 4, 1 / 3])
    np.testing.assert_allclose(w, np.median(f) / f, rtol=1e-6)


def test_parse_size():
    assert parse_size("64") == (64, 64) and parse_size("90x120") == (90, 120)
    assert parse_size(None) is None
    with pytest.raises(ValueError, match=r"size must be N or HxW with positive integers, got "
                                         r"'9x'"):
        parse_size("9x")


def test_make_datasets_reads_camvid_and_voc_folders(tmp_path):
    from test_data_segmentation import make_camvid, make_voc
    camvid = make_camvid(tmp_path / "camvid", {"train": ["0001TP_f00930", "0016E5_00390"],
                                               "val": ["0006R0_000010"]})
    train, val, info = make_datasets(TrainConfig(data=str(camvid), size=(8, 10)))
    assert (info.name, info.ignore_index, info.size, len(info.classes)) == \
        ("camvid", 11, (8, 10), 11)
    assert (len(train), len(val)) == (2, 1)                  # 0006R0 held out
    image, target = val[0]
    assert image.shape == (3, 8, 10) and image.dtype == np.float32
    assert target["mask"].shape == (8, 10)
    assert make_datasets(TrainConfig(data=str(camvid)))[2].size == (90, 120)   # the default
    voc = make_voc(tmp_path / "voc", ["a", "b"])
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text("b\n")
    train, val, info = make_datasets(TrainConfig(data=str(voc), size=(6, 6)))
    assert (info.name, info.ignore_index, info.size, len(train), len(val)) == \
        ("voc", 255, (6, 6), 2, 1)
    assert val[0][1]["mask"].shape == (6, 6)
    with pytest.raises(ValueError, match=r"--format must be camvid or voc, got 'coco'"):
        make_datasets(TrainConfig(data=str(voc), format="coco"))


def test_fit_writes_checkpoints_pictures_and_a_table(tmp_path, capsys):
    lines = []
    result = fit(TrainConfig(model="fcn32s", size=(32, 32), num_images=16, val_images=8,
                             batch_size=8, epochs=2, out=str(tmp_path / "run"), progress=False),
                 log=lines.append)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == \
        ["epoch_001.npz", "epoch_002.npz", "model.npz", "predictions.png"]
    assert [h["epoch"] for h in result["history"]] == [1, 2]
    assert 0.0 <= result["miou"] <= 1.0
    assert any("mIoU" in line for line in lines)
    assert "Adam lr 0.005 (cosine)" in lines[0]                  # FCN's default rate ...
    assert load_checkpoint(tmp_path / "run" / "model.npz").meta["train_config"]["lr"] == 5e-3
    # the end names the resolution ceiling of FCN-32s's stride on the same validation labels
    _, val_set, info = make_datasets(TrainConfig(size=(32, 32), val_images=8))
    masks = np.stack([val_set[i][1]["mask"] for i in range(len(val_set))])
    expected = SegmentationMetrics(6)
    expected.update(stride_oracle(masks, 6, 32), masks)
    assert result["stride_ceiling"] == pytest.approx(expected.compute()["miou"])
    assert any(line.startswith("\nresolution ceiling of a stride-32 network on these labels")
               and line.endswith(f"mIoU {result['stride_ceiling']:.4f}") for line in lines)
    # resume continues at epoch 3 from the optimiser state
    lines.clear()
    fit(TrainConfig(model="fcn32s", size=(32, 32), num_images=16, val_images=8, batch_size=8,
                    epochs=3, out=str(tmp_path / "run"), progress=False,
                    resume=str(tmp_path / "run" / "epoch_002.npz")), log=lines.append)
    assert lines[0].startswith("resumed from") and (tmp_path / "run" / "epoch_003.npz").exists()
    with pytest.raises(CheckpointError, match=r"epoch_002.npz: checkpoint is for model "
                                              r"'fcn32s', not 'fcn8s'"):
        fit(TrainConfig(model="fcn8s", size=(32, 32), num_images=16, val_images=8,
                        out=str(tmp_path / "x"), progress=False,
                        resume=str(tmp_path / "run" / "epoch_002.npz")), log=lines.append)


def test_the_default_learning_rate_depends_on_the_model(tmp_path):
    lines = []
    fit(TrainConfig(model="segnet", size=(32, 32), num_images=8, val_images=4, batch_size=8,
                    epochs=1, out=str(tmp_path / "s"), progress=False), log=lines.append)
    assert "Adam lr 0.001 (cosine)" in lines[0]                   # ... and DeconvNet/SegNet's
    assert not any("resolution ceiling" in line for line in lines)   # SegNet decodes to stride 1
    lines.clear()
    fit(TrainConfig(model="segnet", size=(32, 32), num_images=8, val_images=4, batch_size=8,
                    epochs=1, lr=0.02, out=str(tmp_path / "t"), progress=False),
        log=lines.append)
    assert "Adam lr 0.02 (cosine)" in lines[0]


def test_epochs_default_to_20_or_to_the_time_limit():
    assert resolve_defaults(TrainConfig()).epochs == DEFAULT_EPOCHS == 20
    assert resolve_defaults(TrainConfig(time_limit=5)).epochs == UNLIMITED
    assert resolve_defaults(TrainConfig(time_limit=5, epochs=3)).epochs == 3
    assert resolve_defaults(TrainConfig(model="deconvnet")).lr == DEFAULT_LR["deconvnet"]
    with pytest.raises(ValueError, match=r"train: --time-limit must be > 0 minutes, got -1"):
        resolve_defaults(TrainConfig(time_limit=-1))
    with pytest.raises(ValueError, match=r"train: --epochs and --batch-size must be >= 1 and "
                                         r"--lr > 0, got 0, 16, 0.005"):
        resolve_defaults(TrainConfig(epochs=0))


def test_a_time_limit_alone_ends_training(tmp_path):
    lines = []
    result = fit(TrainConfig(model="fcn32s", size=(32, 32), num_images=16, val_images=4,
                             batch_size=8, time_limit=1e-6, out=str(tmp_path / "t"),
                             progress=False), log=lines.append)
    assert [h["epoch"] for h in result["history"]] == [1]          # one step, then the limit
    assert "time limit of 1e-06 min reached" in lines
    assert (tmp_path / "t" / "epoch_001.npz").exists()


def test_cli_train_eval_predict(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "fcn8s", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mean IoU" in printed and "predictions.png" in printed
    assert main(["eval", str(out / "model.npz")]) == 0
    printed = capsys.readouterr().out
    assert "pixel accuracy" in printed and "mean IoU" in printed
    assert "8 validation images" in printed

    from PIL import Image
    Image.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(tmp_path / "photo.png")
    assert main(["predict", str(out / "model.npz"), str(tmp_path / "photo.png")]) == 0
    overlay = np.asarray(Image.open(tmp_path / "photo_overlay.png"))
    labels = np.asarray(Image.open(tmp_path / "photo_labels.png"))
    assert overlay.shape == (20, 30, 3) and labels.shape == (20, 30)

    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    assert main(["predict", str(out / "model.npz"), str(tmp_path / "broken.jpg")]) == 2
    assert "broken.jpg: cannot read the image" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "photo.png")]) == 2
    assert "photo.png: not a valid .npz file" in capsys.readouterr().err


def test_cli_train_refuses_bad_options(tmp_path, capsys):
    assert main(["train", "fcn8s", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert "--epochs and --batch-size must be >= 1" in capsys.readouterr().err
    assert main(["train", "fcn8s", "--data", str(tmp_path / "nope")]) == 2
    assert "nope: no such folder" in capsys.readouterr().err
