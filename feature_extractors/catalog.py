"""Every registered scoring network, as data: weights, input contract, feature size.

Adding an extractor = its model file in this folder + one ``ExtractorSpec`` here (the registration
line). Nothing here imports torch: the CLI builds its choices and help from this module. The model
files read their preprocessing numbers from these contracts (``CONTRACTS[name]``), so the recipe
exists once.
"""

from __future__ import annotations

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
                           value_range=(-1.0, 1.0), min_frames=32,
                           note="clips of other lengths than 32 are resampled (nearest) to 32 frames first"),
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
EXTRA_WEIGHTS: list[WeightSpec] = []


def all_weight_specs() -> dict[str, WeightSpec]:
    """Every weight file any registered network uses, by name (one spec per name)."""
    out: dict[str, WeightSpec] = {}
    for spec in list(EXTRACTORS.values()) + list(IDENTITY_EMBEDDERS.values()):
        for w in (spec.weights, *spec.extra_weights):
            out.setdefault(w.name, w)
    for w in EXTRA_WEIGHTS:
        out.setdefault(w.name, w)
    return out
