"""minicv.models: VGG, FCN-32s/16s/8s, DeconvNet and SegNet, and the get_model registry.

What is proved here:
- every model maps (N, 3, H, W) to (N, K, H, W) for odd and tiny sizes, in both modes;
- vgg16 is the paper's network (13 convolutions, 3 fully connected layers, 138M parameters)
  and runs on a 224x224 image;
- FCN's upsampling layers start as exact bilinear interpolation away from the border, its score
  layers at zero, and its final upsampling is frozen unless asked;
- DeconvNet unpools at the encoder's own switches (the argmax of each pooling window, checked
  against a loop reference);
- a tiny batch is learnt to near-zero loss;
- a model rebuilt from its JSON configuration and state dict gives the same outputs;
- get_model's errors name what is wrong.
"""
import json
from dataclasses import asdict

import numpy as np
import pytest

import minicv.functional as F
from minicv import models, nn, optim
from minicv.autograd import Tensor, no_grad
from minicv.models import (MODELS, DeconvNetConfig, FCNConfig, VGGConfig, get_model,
                           model_from_config, preset_config, vgg16)
from minicv.models.deconvnet import DecoderStage
from minicv.models.fcn import bilinear_upsampling, pad_to_multiple

TINY = dict(widths=(8, 8, 16, 16, 16), convs=(1, 1, 1, 1, 1))


def tiny(name):
    """A tiny configuration of ``name``: seconds for a test, same architecture. (DeconvNet's
    decoder sees the image only through fc7 and the switches: with 16 fc channels a few seeds
    leave it stuck at loss 0.1 on the tiny batch below; 64 learn it from every seed tried.)"""
    if name == "segnet":
        return TINY
    return dict(TINY, fc_width=64 if name == "deconvnet" else 16)


def images(n, h, w, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 3, h, w)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_output_is_at_input_resolution_for_any_size(name):
    model = get_model(name, 4, rng=0)                 # the small preset as trained
    for h, w in [(1, 1), (2, 3), (33, 47), (64, 64), (31, 65)]:
        for mode in ("train", "eval"):
            model.train(mode == "train")
            with no_grad():
                y = model(images(2, h, w))
            assert isinstance(y, Tensor) and y.shape == (2, 4, h, w), (h, w, mode)
            assert y.dtype == np.float32 and np.isfinite(y.numpy()).all()


def test_a_batch_of_one_works_in_eval_mode_and_in_training_above_32_pixels():
    """Batch normalisation in training needs more than one value per channel (as PyTorch):
    one image of 32x32 or less leaves a single pool5 pixel."""
    for name in ("fcn8s", "deconvnet"):
        model = get_model(name, 3, rng=0, **tiny(name))
        assert model(images(1, 33, 40)).shape == (1, 3, 33, 40)
        with pytest.raises(ValueError, match="batch_norm: expected more than 1 value per "
                                             "channel when training"):
            model(images(1, 5, 7))
        with no_grad():
            assert model.eval()(images(1, 5, 7)).shape == (1, 3, 5, 7)


def test_vgg_stages_halve_the_size_rounding_up_and_report_switches():
    backbone = models.VGG(VGGConfig(**TINY), rng=0)
    outputs = backbone(images(2, 33, 47))
    assert [o.shape for o in outputs] == [(2, 8, 17, 24), (2, 8, 9, 12), (2, 16, 5, 6),
                                          (2, 16, 3, 3), (2, 16, 2, 2)]
    triples = backbone(images(2, 33, 47), return_switches=True)
    assert [size for _, _, size in triples] == [(33, 47), (17, 24), (9, 12), (5, 6), (3, 3)]
    for (pooled, switches, _), plain in zip(triples, outputs):
        assert switches.shape == pooled.shape and switches.dtype == np.int64
        np.testing.assert_array_equal(pooled.numpy(), plain.numpy())


def test_vgg16_is_the_papers_network_and_classifies_a_224_image():
    model = vgg16(rng=0).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [c.out_channels for c in convs] == [64] * 2 + [128] * 2 + [256] * 3 + [512] * 6
    assert [(l.in_features, l.out_features) for l in linears] == [(25088, 4096), (4096, 4096),
                                                                  (4096, 1000)]
    assert sum(p.size for p in model.parameters()) == 138_357_544      # the paper's 138M
    with no_grad():
        logits = model(images(1, 224, 224))
    assert logits.shape == (1, 1000) and np.isfinite(logits.numpy()).all()


def test_paper_presets_have_the_papers_sizes():
    fcn = preset_config("fcn8s", "paper")
    assert (fcn.widths, fcn.convs, fcn.batch_norm) == ((64, 128, 256, 512, 512),
                                                       (2, 2, 3, 3, 3), False)
    assert (fcn.fc_width, fcn.fc_kernel, fcn.dropout, fcn.learn_final_upsampling) == \
        (4096, 7, 0.5, False)
    deconv = preset_config("deconvnet", "paper")
    assert (deconv.batch_norm, deconv.fc_width, deconv.fc_kernel, deconv.fc_padding,
            deconv.decoder) == (True, 4096, 7, 0, "deconv")
    segnet = preset_config("segnet", "paper")
    assert (segnet.widths, segnet.fc_width, segnet.decoder) == (fcn.widths, 0, "conv")
    small = preset_config("fcn8s")
    assert (small.widths, small.convs, small.batch_norm) == ((32, 64, 128, 256, 256),
                                                             (1, 1, 2, 2, 2), True)
    assert (small.fc_width, small.fc_kernel, small.dropout, small.learn_final_upsampling) == \
        (256, 3, 0.0, True)
    for name in MODELS:
        tiny_preset = preset_config(name, "tiny")
        assert tiny_preset.widths == (16, 32, 64, 128, 128) and tiny_preset.convs == small.convs
        assert tiny_preset.fc_width == (0 if name == "segnet" else 128)


def test_paper_deconvnet_needs_193_pixels_and_says_so():
    # the paper's widths are not needed to check the geometry: its unpadded 7x7 fc6 is
    model = get_model("deconvnet", 3, preset="paper", rng=0, widths=(4, 4, 4, 4, 4),
                      fc_width=8)
    with no_grad():
        assert model.eval()(images(1, 193, 200)).shape == (1, 3, 193, 200)
        with pytest.raises(ValueError, match=r"deconvnet: fc6 \(7x7, padding 0\) needs .* at "
                                             r"least 193x193; got input of shape "
                                             r"\(1, 3, 192, 224\)"):
            model(images(1, 192, 224))


# ---------------------------------------------------------------------------------------------
# FCN initialisation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, layer, factor", [("fcn8s", "upscore2", 2),
                                                 ("fcn8s", "upscore_pool4", 2),
                                                 ("fcn8s", "upscore8", 8),
                                                 ("fcn16s", "upscore16", 16),
                                                 ("fcn32s", "upscore32", 32)])
def test_fcn_upsampling_starts_as_bilinear_interpolation(name, layer, factor):
    """kernel 2f, stride f, padding f/2 with bilinear_ weights is interpolate(x, f, bilinear,
    align_corners=False) except on the f/2 outermost rows and columns (zeros read there)."""
    up = getattr(get_model(name, 3, rng=0), layer)
    x = np.random.default_rng(factor).standard_normal((2, 3, 4, 5)).astype(np.float32)
    got = up(x).numpy()
    expected = F.interpolate(x, scale_factor=factor, mode="bilinear",
                             align_corners=False).numpy()
    assert got.shape == expected.shape == (2, 3, 4 * factor, 5 * factor)
    m = factor // 2
    np.testing.assert_allclose(got[..., m:-m, m:-m], expected[..., m:-m, m:-m], rtol=1e-5,
                               atol=1e-5)
    assert not np.allclose(got[..., 0, :], expected[..., 0, :])     # the border does differ


def test_fcn_scores_start_at_zero_and_the_final_upsampling_is_frozen_as_in_the_paper():
    model = get_model("fcn8s", 3, rng=0, learn_final_upsampling=False, **tiny("fcn8s"))
    for score in (model.score_fr, model.score_pool4, model.score_pool3):
        assert not score.weight.numpy().any() and not score.bias.numpy().any()
    np.testing.assert_array_equal(model(images(2, 20, 30)).numpy(), 0)  # uniform at the start
    assert not model.upscore8.weight.requires_grad
    assert model.upscore2.weight.requires_grad and model.upscore_pool4.weight.requires_grad
    F.cross_entropy(model(images(2, 20, 30)), np.zeros((2, 20, 30), np.int64)).backward()
    assert model.upscore8.weight.grad is None and model.score_fr.weight.grad is not None
    assert not get_model("fcn32s", 3, preset="paper", rng=0, **tiny("fcn32s")) \
        .upscore32.weight.requires_grad
    assert get_model("fcn32s", 3, rng=0, **tiny("fcn32s")).upscore32.weight.requires_grad


def test_fcn_skips_sum_aligned_maps():
    """With pool4's scores set to a constant c and everything coarser zero, FCN-8s adds c to
    every pixel of the 1/16 map; after two bilinear x2 and the x8 upsampling the interior of
    the output is exactly c: the maps line up, no pixel is shifted or lost."""
    model = get_model("fcn8s", 2, rng=0, **tiny("fcn8s")).eval()
    nn.init.constant_(model.score_pool4.bias, 0.25)
    with no_grad():
        y = model(images(1, 64, 96)).numpy()
    # bilinear upsampling of a constant is that constant away from the zero-padded border:
    # the 1/16 map passes x2 (margin 1 at 1/8) then x8 (margin 4): 12 pixels at full size
    np.testing.assert_allclose(y[..., 12:-12, 12:-12], 0.25, rtol=1e-6)


def test_pad_to_multiple_pads_bottom_and_right_only():
    x = Tensor(np.ones((1, 1, 33, 32), np.float32))
    padded, size = pad_to_multiple(x, 32)
    assert size == (33, 32) and padded.shape == (1, 1, 64, 32)
    assert padded.numpy()[0, 0, :33].all() and not padded.numpy()[0, 0, 33:].any()
    assert pad_to_multiple(x[:, :, :32], 32)[0].shape == (1, 1, 32, 32)


def test_bilinear_upsampling_layer_geometry():
    up = bilinear_upsampling(3, 4, learnable=False)
    assert (up.kernel_size, up.stride, up.padding, up.bias) == ((8, 8), (4, 4), (2, 2), None)
    assert up(np.zeros((1, 3, 5, 7), np.float32)).shape == (1, 3, 20, 28)


# ---------------------------------------------------------------------------------------------
# DeconvNet: unpooling at the switches
# ---------------------------------------------------------------------------------------------
def argmax_switches_reference(x):
    """Flat position (h*W + w) of each 2x2 window's maximum, ceil mode, first one on ties."""
    n, c, h, w = x.shape
    oh, ow = -(-h // 2), -(-w // 2)
    out = np.zeros((n, c, oh, ow), np.int64)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    window = x[b, ch, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                    di, dj = np.unravel_index(np.argmax(window), window.shape)
                    out[b, ch, i, j] = (2 * i + di) * w + 2 * j + dj
    return out


@pytest.mark.parametrize("name", ["deconvnet", "segnet"])
def test_decoder_unpools_at_the_encoders_switches(name):
    model = get_model(name, 3, rng=0, **tiny(name))
    recorded = {"pre_pool": [], "unpool": []}
    for stage in model.encoder.stages:                   # record each pooling's input
        pool_forward = stage.pool.forward

        def record_pool(x, pool_forward=pool_forward):
            recorded["pre_pool"].append(x.numpy().copy())
            return pool_forward(x)
        stage.pool.forward = record_pool
    for stage in model.decoder:                          # record each unpooling's in and out
        unpool_forward = stage.unpool.forward

        def record_unpool(x, indices, output_size=None, unpool_forward=unpool_forward):
            y = unpool_forward(x, indices, output_size=output_size)
            recorded["unpool"].append((x.numpy().copy(), np.asarray(indices.numpy()),
                                       output_size, y.numpy().copy()))
            return y
        stage.unpool.forward = record_unpool
    model(images(2, 19, 26))
    assert len(recorded["pre_pool"]) == len(recorded["unpool"]) == 5
    # decoder stage k mirrors encoder stage 4 - k
    for pre_pool, (x, switches, size, y) in zip(recorded["pre_pool"],
                                                reversed(recorded["unpool"])):
        assert size == pre_pool.shape[2:] == y.shape[2:]          # back to the pre-pool size
        np.testing.assert_array_equal(switches, argmax_switches_reference(pre_pool))
        n, c = x.shape[:2]
        planes = y.reshape(n, c, -1)
        # every value sits at its switch...
        np.testing.assert_array_equal(np.take_along_axis(planes, switches.reshape(n, c, -1),
                                                         axis=2), x.reshape(n, c, -1))
        # ...and everything else is zero
        at_switch = np.zeros(planes.shape, bool)
        np.put_along_axis(at_switch, switches.reshape(n, c, -1), True, axis=2)
        assert not planes[~at_switch].any()
        assert (planes[at_switch] != 0).any()


def test_decoder_stage_mirrors_the_encoder_stage():
    stage = DecoderStage(16, 8, 3, transposed=True, batch_norm=True, rng=0)
    convs = [m for m in stage.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(16, 16), (16, 16), (16, 8)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in stage.modules()) == 3
    segnet = get_model("segnet", 3, rng=0, **tiny("segnet"))
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in segnet.modules())
    assert isinstance(segnet.fc, nn.Identity)
    deconv = get_model("deconvnet", 3, rng=0, **tiny("deconvnet"))
    assert isinstance(deconv.fc[2][0], nn.ConvTranspose2d)               # deconv-fc6
    widths = [(s.convs[0][0].in_channels, s.convs[-1][0].out_channels) for s in deconv.decoder]
    assert widths == [(16, 16), (16, 16), (16, 8), (8, 8), (8, 8)]


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------
def two_images():
    """Two 32x32 images whose classes (a disc, a rectangle, background) are visible."""
    size = 32
    yy, xx = np.mgrid[:size, :size]
    masks = np.zeros((2, size, size), np.int64)
    masks[0][(yy - 12) ** 2 + (xx - 14) ** 2 < 49] = 1
    masks[0][(yy > 18) & (xx > 20)] = 2
    masks[1][yy < 10] = 2
    masks[1][(yy - 20) ** 2 + (xx - 8) ** 2 < 36] = 1
    x = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32) * 0.5
    x += np.stack([masks == c for c in range(3)], axis=1)
    return x.astype(np.float32), masks


@pytest.mark.parametrize("name", ["fcn8s", "deconvnet", "segnet"])
def test_a_tiny_batch_is_learnt_to_near_zero_loss(name):
    # (FCN-32s is left out: on a 32x32 image its whole prediction comes from one coarse pixel)
    x, masks = two_images()
    model = get_model(name, 3, rng=0, **tiny(name))
    opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), masks)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    logits = model(x)
    final = F.cross_entropy(logits, masks).item()
    assert losses[0] > 1.0 and final < 0.05, (losses[0], losses[-5:], final)
    assert (logits.numpy().argmax(axis=1) == masks).mean() > 0.98


# ---------------------------------------------------------------------------------------------
# Configurations and checkpoints
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip_rebuilds_the_same_outputs(name, tmp_path):
    model = get_model(name, 3, rng=1, **tiny(name))
    opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x, masks = two_images()
    for _ in range(2):                       # move the weights and BN's running statistics
        opt.zero_grad()
        F.cross_entropy(model(x), masks).backward()
        opt.step()
    model.save(tmp_path / "model.npz")
    stored = json.loads(json.dumps(asdict(model.config)))           # what a checkpoint keeps
    rebuilt = model_from_config(name, 3, stored)
    rebuilt.load(tmp_path / "model.npz")
    assert rebuilt.name == model.name == name and rebuilt.config == model.config
    with no_grad():
        np.testing.assert_array_equal(rebuilt.eval()(x).numpy(), model.eval()(x).numpy())
    assert [n for n, p in rebuilt.named_parameters() if not p.requires_grad] == \
        [n for n, p in model.named_parameters() if not p.requires_grad]


@pytest.mark.parametrize("name", MODELS)
def test_a_seed_gives_the_same_model_and_distinct_layers(name):
    first, second = get_model(name, 3, rng=7), get_model(name, 3, rng=7)
    for (key, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    # one generator for all layers: the stage-5 convolutions (same shape) differ
    convs = [p.numpy() for n, p in first.named_parameters() if p.shape == (256, 256, 3, 3)]
    assert len(convs) >= 2 and not np.array_equal(convs[0], convs[1])
    first_conv = next(iter(first.state_dict()))                  # the first 3x3 convolution
    assert not np.array_equal(get_model(name, 3, rng=8).state_dict()[first_conv],
                              first.state_dict()[first_conv])


def test_configs_are_plain_json_and_lists_become_tuples():
    for name in MODELS:
        config = get_model(name, 2, **tiny(name)).config
        assert json.loads(json.dumps(asdict(config))) == {
            k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}
    config = FCNConfig(widths=[8, 8, 16, 16, 16], convs=[1, 1, 1, 1, 1])
    assert config.widths == (8, 8, 16, 16, 16) and config.convs == (1, 1, 1, 1, 1)


def test_get_model_takes_a_config_object_and_overrides():
    config = DeconvNetConfig(**tiny("deconvnet"), fc_kernel=3, fc_padding=1)
    model = get_model("deconvnet", 2, config=config, fc_width=8)
    assert model.config.fc_width == 8 and model.config.widths == TINY["widths"]
    assert config.fc_width == 64                           # the caller's object is untouched
    assert set(MODELS) == {"fcn32s", "fcn16s", "fcn8s", "deconvnet", "segnet"}


@pytest.mark.parametrize("call, error, match", [
    (lambda: get_model("unet", 3), ValueError,
     r"unknown model 'unet'; known models: fcn32s, fcn16s, fcn8s, deconvnet, segnet"),
    (lambda: get_model("fcn8s", 0), ValueError,
     r"fcn8s: num_classes must be a positive int, got 0"),
    (lambda: get_model("fcn8s", 2.5), ValueError, r"num_classes must be a positive int, got 2.5"),
    (lambda: get_model("segnet", True), ValueError,
     r"num_classes must be a positive int, got True"),
    (lambda: get_model("fcn8s", "3"), ValueError, r"num_classes must be a positive int, got '3'"),
    (lambda: get_model("fcn8s", 3, preset="large"), ValueError,
     r"fcn8s: unknown preset 'large'; known presets: tiny, small, paper"),
    (lambda: get_model("fcn8s", 3, width=3), ValueError,
     r"fcn8s: unknown configuration field\(s\) \['width'\]; known: widths, convs"),
    (lambda: get_model("fcn8s", 3, config=DeconvNetConfig()), ValueError,
     r"fcn8s: config must be a FCNConfig, got DeconvNetConfig"),
    (lambda: get_model("segnet", 3, decoder="deconv"), ValueError,
     r"segnet: decoder must be 'conv'"),
    (lambda: get_model("deconvnet", 3, decoder="conv"), ValueError,
     r"deconvnet: decoder must be 'deconv'"),
    (lambda: get_model("fcn8s", 3, widths=(8, 8, 8)), ValueError,
     (r"FCNConfig: widths \(8, 8, 8\) and convs \(1, 1, 2, 2, 2\) must be non-empty and of the "
      r"same length")),
    (lambda: get_model("fcn8s", 3, widths=(8, 8, 8), convs=(1, 1, 1)), ValueError,
     r"FCN8s: needs a 5-stage backbone"),
    (lambda: get_model("fcn8s", 3, convs=(1, 0, 2, 2, 2)), ValueError,
     r"FCNConfig: convs must hold positive ints, got \(1, 0, 2, 2, 2\)"),
    (lambda: get_model("fcn8s", 3, fc_kernel=4), ValueError,
     r"FCNConfig: fc_kernel must be a positive odd int"),
    (lambda: get_model("fcn8s", 3, dropout=1.0), ValueError,
     r"FCNConfig: dropout must be in \[0, 1\), got 1.0"),
    (lambda: get_model("deconvnet", 3, fc_padding=2), ValueError,
     r"DeconvNetConfig: fc_padding must be an int between 0 and fc_kernel // 2 = 1, got 2"),
    (lambda: get_model("deconvnet", 3, decoder="up"), ValueError,
     r"DeconvNetConfig: decoder must be one of \('deconv', 'conv'\), got 'up'"),
    (lambda: get_model("deconvnet", 3, fc_width=-1), ValueError,
     r"DeconvNetConfig: fc_width must be an int >= 0"),
    (lambda: get_model("fcn8s", 3, batch_norm=1), ValueError,
     r"FCNConfig: batch_norm must be a bool, got 1"),
    (lambda: model_from_config("fcn8s", 3, {"widths": [8] * 5, "depth": 2}), ValueError,
     r"fcn8s: unknown configuration field\(s\) \['depth'\]"),
    (lambda: model_from_config("fcn8s", 3, [8] * 5), ValueError,
     r"fcn8s: the configuration must be a dict, got list"),
])
def test_bad_requests_are_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_output_stride_names_the_finest_score_map_each_fcn_upsamples():
    strides = {name: getattr(models.get_model(name, 3, preset="tiny", rng=0), "output_stride",
                             None) for name in models.MODELS}
    assert strides == {"fcn32s": 32, "fcn16s": 16, "fcn8s": 8, "deconvnet": None,
                       "segnet": None}
