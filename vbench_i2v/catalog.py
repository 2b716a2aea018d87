"""Every registered scoring network, as data: weights, input contract, feature size.

Adding an extractor = its model file in ``feature_extractors/`` + one ``ExtractorSpec`` here (the
registration line). Nothing here imports torch: the CLI builds its choices and help from this module. The model
files read their preprocessing numbers from these contracts (``CONTRACTS[name]``), so the recipe
exists once.
"""

from __future__ import annotations

from vbench_i2v.i3d_routes import CONTRACTS as I3D_ROUTES
from vbench_i2v.specs import ExtractorSpec, InputContract, WeightSpec

RESNEXT_WEIGHTS = WeightSpec(
    name="resnext101-kinetics",
    file_name="resnext-101-kinetics.pth",
    description="3D ResNeXt-101 trained on Kinetics-400 (Hara et al. 2018), Video FID features",
    loader="vbench_i2v.feature_extractors.resnext3d:load_published",
    source_page="https://github.com/kenshohara/3D-ResNets-PyTorch (README, 'Pre-trained models': Google Drive)",
    used_by=("fid", "kid"),
)
FACENET_WEIGHTS = WeightSpec(
    name="facenet-vggface2",
    file_name="20180402-114759-vggface2.pt",
    description="facenet-pytorch InceptionResnetV1 trained on VGGFace2, 512-d face embeddings for ACD",
    loader="vbench_i2v.feature_extractors.face_identity:load_inception_resnet",
    urls=("https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",),
    used_by=("acd-c", "acd-i"),
)
PROBE_WEIGHTS = WeightSpec(
    name="synthetic-probe",
    file_name="synthetic_probe.safetensors",
    description="small 3D conv probe trained on the synthetic dataset (FID features + identity embedding)",
    loader="vbench_i2v.feature_extractors.synthetic_probe:load_probe",
    packaged="feature_extractors/weights/synthetic_probe.safetensors",
    sha256="4db96437555a44b3d34fb288658764eeef67f1f0c6f6bae5fa91a3578f1d9315",  # scripts/train_synthetic_probe.py --seed 0
    used_by=("fid", "kid", "acd-c", "acd-i"),
)

I3D_WEIGHTS = WeightSpec(
    name="i3d-kinetics400",
    file_name="i3d_pretrained_400.pt",
    description="Inception-I3D Kinetics-400 (tf.hub i3d-kinetics-400/1 port), 400-d FVD features; "
                "stylegan-v's i3d_torchscript.pt is accepted too (its tensors are read, its code never run)",
    loader="vbench_i2v.feature_extractors.i3d:load_any",
    urls=("https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt",),
    source_page="https://github.com/songweige/TATS (tats/fvd/i3d_pretrained_400.pt); TorchScript alternative: "
                "universome/stylegan-v (i3d_torchscript.pt)",
    used_by=("fvd", "fvd-styleganv", "kvd", "fvd-inf"),
)
LPIPS_ALEX_WEIGHTS = WeightSpec(
    name="lpips-alex", file_name="alexnet-owt-7be5be79.pth",
    description="torchvision AlexNet ImageNet weights (IMAGENET1K_V1): the LPIPS v0.1 trunk "
                "(the calibration layers ship with the lpips package)",
    loader="vbench_i2v.feature_extractors.lpips_net:load_alexnet_backbone",
    urls=("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),
    used_by=("lpips", "lpips-cond"),
)
LPIPS_VGG_WEIGHTS = WeightSpec(
    name="lpips-vgg", file_name="vgg16-397923af.pth",
    description="torchvision VGG16 ImageNet weights (IMAGENET1K_V1): the trunk of LPIPS v0.1 on VGG",
    loader="vbench_i2v.feature_extractors.lpips_net:load_vgg16_backbone",
    urls=("https://download.pytorch.org/models/vgg16-397923af.pth",),
    used_by=("lpips",),
)
VIDEOMAE_G_WEIGHTS = WeightSpec(
    name="videomae-v2-g-ssv2", file_name="vit_g_hybrid_pt_1200e_ssv2_ft.pth",
    description="VideoMAE-v2 ViT-g/14 fine-tuned on SSv2 (content-debiased FVD features, 1408-d)",
    loader="vbench_i2v.feature_extractors.videomae_v2:load_published",
    urls=("https://huggingface.co/OpenGVLab/InternVideoMAE_models/resolve/main/mae-g/vit_g_hybrid_pt_1200e_ssv2_ft.pth",),
    used_by=("cd-fvd",),
)
VJEPA_H_WEIGHTS = WeightSpec(
    name="vjepa-h16-ssv2", file_name="vith16.pth.tar",
    description="V-JEPA ViT-H/16 pretrained encoder (JEDi features; 'target_encoder' entry)",
    loader="vbench_i2v.feature_extractors.vjepa:load_encoder",
    urls=("https://dl.fbaipublicfiles.com/jepa/vith16/vith16.pth.tar",), used_by=("jedi",),
)
VJEPA_PROBE_WEIGHTS = WeightSpec(
    name="vjepa-h16-ssv2-probe", file_name="vith16-ssv2-probe.pth.tar",  # published as ssv2-probe.pth.tar
    description="V-JEPA ViT-H/16 SSv2 attentive probe (its pooler gives JEDi's 1280-d feature)",
    loader="vbench_i2v.feature_extractors.vjepa:load_probe",
    urls=("https://dl.fbaipublicfiles.com/jepa/vith16/ssv2-probe.pth.tar",), used_by=("jedi",),
)


def _i3d_contract(route: str) -> InputContract:
    """The catalog's view of an FVD route, derived from the route data the network preprocesses with."""
    r = I3D_ROUTES[route]
    return InputContract(
        frames=r.frames or r.min_frames, sampling="first" if r.frames else "all", size=(r.side, r.side),
        resize=f"{r.resize}, {r.interpolation} (align_corners=False, no antialias)",
        value_range=(r.value_offset, 255 * r.value_scale + r.value_offset), min_frames=r.min_frames,
        max_aspect=2.0 if r.resize == "stretch" else 4.0,
        crop="centre" if "crop" in r.resize else "none",
        note=f"covariance {r.covariance}; reference N {r.n_videos or 'not fixed'}; source {r.source}")


EXTRACTORS: dict[str, ExtractorSpec] = {}
IDENTITY_EMBEDDERS: dict[str, ExtractorSpec] = {}


def register(spec: ExtractorSpec) -> ExtractorSpec:
    table = IDENTITY_EMBEDDERS if spec.family == "identity" else EXTRACTORS
    if spec.name in table:
        raise ValueError(f"extractor {spec.name!r} is already registered")
    table[spec.name] = spec
    return spec


register(ExtractorSpec(
    name="resnext101-kinetics", family="video",
    build="vbench_i2v.feature_extractors.resnext3d:ResNeXtFIDExtractor",
    weights=RESNEXT_WEIGHTS, dim=2048, batch_size_cpu=8, comparable_with_published=True,
    description="Video FID as in G3AN/ImaGINator: 3D ResNeXt-101 (Kinetics-400) 2048-d avgpool",
    contract=InputContract(frames=16, sampling="central", size=(112, 112),
                           resize="bilinear, antialiased when shrinking (PIL-like), rounded to integers",
                           value_range=(0.0, 255.0), mean=(114.7748, 107.7354, 99.4750), std=(1.0, 1.0, 1.0),
                           min_frames=16),
))
register(ExtractorSpec(
    name="synthetic-probe", family="video",
    build="vbench_i2v.feature_extractors.synthetic_probe:ProbeVideoExtractor",
    weights=PROBE_WEIGHTS, dim=128, batch_size_cpu=32,
    description="the shipped probe of the synthetic dataset: 128-d video features (synthetic domain only)",
    contract=InputContract(frames=16, sampling="every-2nd", size=(64, 64), resize="bilinear, antialiased",
                           value_range=(-1.0, 1.0), min_frames=32, native_frames=32,
                           note="longer clips are resampled (nearest) to 32 frames first (recorded as a conversion)"),
))
register(ExtractorSpec(
    name="i3d-kinetics400", family="video",
    build="vbench_i2v.feature_extractors.i3d:I3DFVDExtractor", build_kwargs=(("route", "fvd"),),
    weights=I3D_WEIGHTS, dim=400, batch_size_cpu=4, comparable_with_published=True, seconds_per_clip_cpu=1.1,
    description="FVD's Inception-I3D (Kinetics-400), VideoGPT route: 400 logits averaged over time",
    contract=_i3d_contract("fvd"),
))
register(ExtractorSpec(
    name="i3d-kinetics400-styleganv", family="video",
    build="vbench_i2v.feature_extractors.i3d:I3DFVDExtractor", build_kwargs=(("route", "fvd-styleganv"),),
    weights=I3D_WEIGHTS, dim=400, batch_size_cpu=4, comparable_with_published=True, seconds_per_clip_cpu=0.6,
    description="the same I3D on stylegan-v's fvd2048_16f route (16 frames, stretched to 224x224)",
    contract=_i3d_contract("fvd-styleganv"),
))
register(ExtractorSpec(
    name="videomae-v2-g-ssv2", family="video",
    build="vbench_i2v.feature_extractors.videomae_v2:VideoMAEv2Extractor",
    weights=VIDEOMAE_G_WEIGHTS, dim=1408, batch_size_cpu=2, comparable_with_published=True,
    seconds_per_clip_cpu=90.0,  # 5.09 TFLOP per 16x224x224 clip at ~58 GFLOP/s (docs/fvd-successors.md)
    description="content-debiased FVD (cd-fvd): VideoMAE-v2 ViT-g/14 SSv2, fc_norm of the mean token, 1408-d",
    contract=InputContract(
        frames=16, sampling="first", size=(224, 224),
        resize="bilinear (torch interpolate, align_corners=False, no antialias) on float [0, 1] pixels, "
               "aspect ratio not kept",
        value_range=(0.0, 1.0), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), min_frames=16,
        note="cd-fvd feeds its loader's 16-frame window (random start); the first 16 frames are the "
             "deterministic choice here"),
))
register(ExtractorSpec(
    name="vjepa-h16-ssv2", family="video",
    build="vbench_i2v.feature_extractors.vjepa:VJEPAExtractor",
    weights=VJEPA_H_WEIGHTS, extra_weights=(VJEPA_PROBE_WEIGHTS,), dim=1280, batch_size_cpu=2,
    seconds_per_clip_cpu=55.0,  # 2.38 TFLOP per clip at ~44 GFLOP/s (docs/fvd-successors.md)
    comparable_with_published=False,  # JEDi leaves frame choice and resizing to the caller's loader
    description="JEDi: V-JEPA ViT-H/16 tokens pooled by the SSv2 attentive probe, 1280-d",
    contract=InputContract(
        frames=16, sampling="first", size=(224, 224),
        resize="bilinear (torch interpolate, align_corners=False), antialiased when shrinking, aspect ratio not kept",
        value_range=(0.0, 1.0), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), min_frames=16,
        note="JEDi leaves frame choice and resizing to the caller's loader; the encoder's native grid "
             "(16 x 224 x 224) is used, so no position-table interpolation happens"),
))
register(ExtractorSpec(
    name="facenet-vggface2", family="identity",
    build="vbench_i2v.feature_extractors.face_identity:FaceEmbedder",
    weights=FACENET_WEIGHTS, dim=512, batch_size_cpu=64,
    description="facenet-pytorch InceptionResnetV1 (VGGFace2) on MTCNN face crops, 512-d",
    contract=InputContract(frames=None, sampling="per-frame", size=(160, 160),
                           resize="MTCNN face crop to 160x160; whole frame (bilinear, antialiased) without a face",
                           value_range=(-1.0, 1.0), max_aspect=4.0),
))
register(ExtractorSpec(
    name="synthetic-probe", family="identity",
    build="vbench_i2v.feature_extractors.synthetic_probe:ProbeIdentityEmbedder",
    weights=PROBE_WEIGHTS, dim=64, batch_size_cpu=256,
    description="the shipped probe's per-frame 64-d identity embedding (synthetic domain only)",
    contract=InputContract(frames=None, sampling="per-frame", size=(64, 64), resize="bilinear, antialiased",
                           value_range=(-1.0, 1.0)),
))

# Weight files that no extractor entry above carries (e.g. backbones used inside a metric).
EXTRA_WEIGHTS: list[WeightSpec] = [LPIPS_ALEX_WEIGHTS, LPIPS_VGG_WEIGHTS]


def all_weight_specs() -> dict[str, WeightSpec]:
    """Every weight file any registered network uses, by name (one spec per name)."""
    out: dict[str, WeightSpec] = {}
    for spec in list(EXTRACTORS.values()) + list(IDENTITY_EMBEDDERS.values()):
        for w in (spec.weights, *spec.extra_weights):
            out.setdefault(w.name, w)
    for w in EXTRA_WEIGHTS:
        out.setdefault(w.name, w)
    return out
