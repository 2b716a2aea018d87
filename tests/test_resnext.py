"""3D ResNeXt-101: published parameter count and layer shapes, published checkpoint format, resize vs PIL."""

import numpy as np
import pytest
import torch
from PIL import Image

from vbench_i2v.errors import InputError, WeightsError
from vbench_i2v.feature_extractors.resnext3d import (
    ACTIVITYNET_MEAN, ResNeXtFIDExtractor, central_frames, load_published, resize_like_pil, resnext101, save_published)


def test_parameter_count_and_layer_shapes():
    with torch.device("meta"):
        m = resnext101()
    assert sum(p.numel() for p in m.parameters()) == 48_340_816
    assert m.conv1.weight.shape == (64, 3, 7, 7, 7) and m.conv1.stride == (1, 2, 2)
    assert [len(getattr(m, f"layer{i}")) for i in range(1, 5)] == [3, 4, 23, 3]
    assert m.layer1[0].conv2.groups == 32 and m.layer1[0].conv2.weight.shape == (128, 4, 3, 3, 3)
    assert m.layer4[0].downsample[0].weight.shape == (2048, 1024, 1, 1, 1) and m.fc.weight.shape == (400, 2048)


@pytest.fixture(scope="module")
def published_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = resnext101().eval()
    for mod in model.modules():  # non-trivial BN statistics so a wrong load would show
        if isinstance(mod, torch.nn.BatchNorm3d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("w") / "resnext-101-kinetics.pth"
    save_published(model, path)
    return model, path


def test_published_format_loads_to_identical_outputs(published_checkpoint):
    model, path = published_checkpoint
    ckpt = torch.load(path, weights_only=True)
    assert set(ckpt) == {"epoch", "arch", "state_dict", "optimizer"}
    keys = list(ckpt["state_dict"])
    assert all(k.startswith("module.") for k in keys) and not any("num_batches_tracked" in k for k in keys)
    loaded = load_published(path)
    x = torch.randn(1, 3, 16, 112, 112) * 50
    with torch.inference_mode():
        a, b = model.features(x), loaded.features(x)
    assert a.shape == (1, 2048)
    assert torch.equal(a, b)


def test_strict_key_check(published_checkpoint, tmp_path):
    _, path = published_checkpoint
    ckpt = torch.load(path, weights_only=True)
    del ckpt["state_dict"]["module.layer3.5.bn2.weight"]
    bad = tmp_path / "bad.pth"
    torch.save(ckpt, bad)
    with pytest.raises(WeightsError, match="missing"):
        load_published(bad)


def test_extractor_recipe_and_channels_last_agree(published_checkpoint):
    _, path = published_checkpoint
    rng = np.random.default_rng(0)
    videos = rng.integers(0, 256, (2, 20, 64, 64, 3), dtype=np.uint8)
    fast = ResNeXtFIDExtractor(path, channels_last=True)
    plain = ResNeXtFIDExtractor(path, channels_last=False)
    x = fast.preprocess(videos)
    # central 16 frames start at T//2 - 8 = 2; each resized like PIL; ActivityNet mean subtracted
    frame = np.asarray(Image.fromarray(videos[1, 2]).resize((112, 112), Image.BILINEAR)).astype(np.float32)
    ours = (x[1, :, 0] + torch.tensor(ACTIVITYNET_MEAN).view(3, 1, 1)).permute(1, 2, 0).numpy()
    assert np.abs(ours - frame).max() <= 1.0 + 1e-4
    fa, fb = fast.features(videos), plain.features(videos)
    assert fa.shape == (2, 2048) and fa.dtype == np.float64
    np.testing.assert_allclose(fa, fb, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(6, 64, 64, 3), (2, 240, 320, 3), (2, 183, 97, 3)])
def test_resize_within_one_grey_level_of_pil(shape):
    rng = np.random.default_rng(sum(shape))
    frames = rng.integers(0, 256, shape, dtype=np.uint8)
    ref = np.stack([np.asarray(Image.fromarray(f).resize((112, 112), Image.BILINEAR)) for f in frames])
    ours = resize_like_pil(torch.from_numpy(frames)).permute(0, 2, 3, 1).numpy()
    assert np.abs(ours - ref.astype(np.float32)).max() <= 1.0


def test_too_few_frames_is_a_clear_error():
    with pytest.raises(InputError, match="16 frames"):
        central_frames(np.zeros((1, 12, 8, 8, 3), np.uint8))


def _model_with_bn_statistics(seed=0):
    torch.manual_seed(seed)
    model = resnext101().eval()
    for mod in model.modules():  # non-trivial BN so a wrong fold would show
        if isinstance(mod, torch.nn.BatchNorm3d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.1, 0.1)
    return model


@pytest.mark.parametrize("mode", ["fused", "onednn", "torch"])
def test_folded_plan_equals_eager_model(mode, monkeypatch):
    """Every route of the fast plan (oneDNN fused, oneDNN plain, F.conv3d) computes model.features."""
    import vbench_i2v.feature_extractors.resnext3d as rx

    if mode != "torch" and not torch.backends.mkldnn.is_available():
        pytest.skip("oneDNN not in this torch build")
    if mode == "fused" and rx._onednn_mode() != "fused":
        pytest.skip("inductor's oneDNN ops not in this torch build")
    model = _model_with_bn_statistics()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    plan = rx.FoldedFeatures(model)
    monkeypatch.setattr(rx, "_onednn_mode", lambda: mode)
    x = torch.randn(2, 3, 16, 112, 112) * 50
    with torch.inference_mode():
        ref = model.features(x)
        got = plan(x.contiguous(memory_format=torch.channels_last_3d))
        again = plan(x[:1].contiguous(memory_format=torch.channels_last_3d))  # another input shape
    rel = ((got - ref).abs().max() / ref.abs().max()).item()
    assert rel < 1e-5, rel
    assert ((again - ref[:1]).abs().max() / ref.abs().max()).item() < 1e-5
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # model only read


def test_fast_and_plain_extractors_agree():
    model = _model_with_bn_statistics(1)
    videos = np.random.default_rng(3).integers(0, 256, (3, 16, 64, 64, 3), dtype=np.uint8)
    import copy

    fast = ResNeXtFIDExtractor.from_model(copy.deepcopy(model), batch_size=2)
    plain = ResNeXtFIDExtractor.from_model(copy.deepcopy(model), batch_size=1, channels_last=False, fast=False)
    fa, fb = fast.features(videos), plain.features(videos)
    assert fa.shape == (3, 2048)
    np.testing.assert_allclose(fa, fb, rtol=0, atol=1e-5 * np.abs(fb).max())


def test_preprocess_is_channels_last_network_input():
    videos = np.random.default_rng(4).integers(0, 256, (2, 20, 64, 64, 3), dtype=np.uint8)
    ex = ResNeXtFIDExtractor.from_model(resnext101())
    x = ex.preprocess(videos)
    assert x.shape == (2, 3, 16, 112, 112) and x.is_contiguous(memory_format=torch.channels_last_3d)
    # same values as the plain layout: the layout is only how memory is ordered
    ref = torch.stack([resize_like_pil(torch.from_numpy(v[2:18])) for v in videos]).permute(0, 2, 1, 3, 4)
    assert torch.equal(x, ref - torch.tensor(ACTIVITYNET_MEAN).view(1, 3, 1, 1, 1))
