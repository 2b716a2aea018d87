"""Pieces of `vbench run` that need no generation: variants, run ids, defaults per dataset."""

import torch

from vbench_i2v.datasets import get_dataset
from vbench_i2v.generators.registry import get_generator
from vbench_i2v.run import config_variant, default_extractor, default_metrics, run_id_for


def _model(**kw):
    cls = get_generator("imaginator")
    with torch.device("meta"):
        return cls(cls.make_config(**kw), 7, device="meta")


def test_config_variant_names_what_sets_a_model_apart():
    cls = get_generator("imaginator")
    assert config_variant(_model()) is None
    assert config_variant(_model(overrides={"batch_size": 3})) is None  # training only
    assert config_variant(_model(width=0.125)) == "width=0.125"
    assert config_variant(_model(overrides={"fusion": False})) == "fusion=False"
    paper = config_variant(_model(preset="paper"))
    assert paper == ("preset=paper" if cls.default_preset != "paper" else None)


def test_run_id_is_a_pure_function_of_what_ran():
    a = run_id_for("imaginator", None, "synthetic", "abcdef012345", "f" * 64, 0)
    assert a == run_id_for("imaginator", None, "synthetic", "abcdef012345", "f" * 64, 0)
    assert a != run_id_for("imaginator", "fusion=False", "synthetic", "abcdef012345", "f" * 64, 0)
    assert a != run_id_for("imaginator", None, "synthetic", "abcdef012345", "f" * 64, 1)


def test_defaults_per_dataset():
    syn = get_dataset("synthetic")
    assert default_extractor(syn) == "synthetic-probe"
    assert default_metrics(syn) == ["ssim", "psnr", "fid", "kid", "acd-c", "acd-i", "label-acc"]
    wz = get_dataset("weizmann")
    assert default_extractor(wz) == "resnext101-kinetics" and default_metrics(wz) == ["ssim", "psnr", "fid", "kid"]
    assert "acd-c" in default_metrics(get_dataset("mug"))


def test_shipped_checkpoints_are_small_and_match_their_recorded_sha256(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    import pytest

    import vbench_i2v.generators as gens
    from vbench_i2v.errors import InputError
    from vbench_i2v.files import sha256_file
    from vbench_i2v.run import shipped_checkpoint

    root = Path(gens.__file__).parent / "checkpoints"
    for backend in ("imaginator", "mocogan", "vgan"):
        path = shipped_checkpoint(backend, "synthetic")
        assert path is not None and (path / "model.safetensors").stat().st_size <= 10 * 2**20
        assert sha256_file(path / "model.safetensors") in (root / "SHA256SUMS").read_text()
    assert shipped_checkpoint("imaginator", "mug") is None
    # a tampered copy is refused
    fake_pkg = tmp_path / "generators"
    shutil.copytree(root, fake_pkg / "checkpoints")
    (fake_pkg / "__init__.py").write_text("")
    with open(fake_pkg / "checkpoints" / "vgan-synthetic" / "model.safetensors", "r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 1]))
    monkeypatch.setattr(gens, "__file__", str(fake_pkg / "__init__.py"))
    with pytest.raises(InputError, match="does not match the recorded"):
        shipped_checkpoint("vgan", "synthetic")


def test_one_run_id_whatever_metrics_or_networks_are_asked_for(tmp_path):
    """The run folder is keyed by the clips: the metrics (and their networks) asked for are recorded
    per metric as measurement ids, so adding fid to an ssim run finds the same folder."""
    from vbench_i2v.results import fingerprint_fields, protocol_fingerprint
    from vbench_i2v.run import RunSpec, load_stage

    def loaded(metrics, **kw):
        kw = {"max_videos": 2, "conditioning_per_video": 1, **kw}
        return load_stage(RunSpec(generator="copy-first-frame", dataset="synthetic", metrics=metrics,
                                  out=str(tmp_path), device="cpu", **kw))

    runs = [loaded(["ssim"]), loaded(["fid", "ssim"]), loaded(["ssim", "fid"]),
            loaded(["ssim"], extractor="synthetic-probe", include_conditioning_frame=True)]
    assert len({r.run_id for r in runs}) == 1 and len({r.run_dir for r in runs}) == 1
    assert runs[0].protocol == runs[1].protocol == runs[3].protocol
    # the protocol is the clips only, its fingerprint the documented hash of them
    p = runs[1].protocol
    assert set(p) == {"frames", "size", "frame_step", "conditioning_per_video", "max_videos", "seed",
                      "dataset_options", "dataset_fingerprint", "fingerprint"}
    flat = fingerprint_fields({"protocol": p, "dataset": runs[1].dataset_block})
    assert p["fingerprint"] == protocol_fingerprint(flat) and p["fingerprint"][:8] in runs[1].run_id
    # what does make other clips still makes another folder
    assert loaded(["ssim"], seed=1).run_id != runs[0].run_id
    assert loaded(["ssim"], conditioning_per_video=2).run_id != runs[0].run_id
