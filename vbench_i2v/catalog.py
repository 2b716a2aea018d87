"""Every registered scoring network, as data: weights, input contract, feature size.

Adding an extractor = its model file in ``feature_extractors/`` + one ``ExtractorSpec`` here (the
registration line). Nothing here imports torch: the CLI builds its choices and help from this module. Each
entry's ``InputContract`` is its preprocessing as data: the model files build their input from it
(``vbench_i2v/preprocess.py``), so the recipe exists once.
"""

from __future__ import annotations

from vbench_i2v.i3d_routes import CONTRACTS as I3D_ROUTES
from vbench_i2v.specs import (Crop, ExtractorSpec, FrameRecipe, InputContract, ModelFamily, Pixels, Resize,
                               WeightSpec)

RESNEXT_WEIGHTS = WeightSpec(
    name="resnext101-kinetics",
    file_name="resnext-101-kinetics.pth",
    description="3D ResNeXt-101 trained on Kinetics-400 (Hara et al. 2018), Video FID features",
    loader="vbench_i2v.feature_extractors.resnext3d:load_published",
    source_page="https://github.com/kenshohara/3D-ResNets-PyTorch (README, 'Pre-trained models': Google Drive)",
)
FACENET_WEIGHTS = WeightSpec(
    name="facenet-vggface2",
    file_name="20180402-114759-vggface2.pt",
    description="facenet-pytorch InceptionResnetV1 trained on VGGFace2, 512-d face embeddings for ACD",
    loader="vbench_i2v.feature_extractors.face_identity:load_inception_resnet",
    urls=("https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",),
)
PROBE_WEIGHTS = WeightSpec(
    name="synthetic-probe",
    file_name="synthetic_probe.safetensors",
    description="small 3D conv probe trained on the synthetic dataset (FID features + identity embedding)",
    loader="vbench_i2v.feature_extractors.synthetic_probe:load_probe",
    packaged="feature_extractors/weights/synthetic_probe.safetensors",
    sha256="4db96437555a44b3d34fb288658764eeef67f1f0c6f6bae5fa91a3578f1d9315",  # scripts/train_synthetic_probe.py --seed 0
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
)
LPIPS_ALEX_WEIGHTS = WeightSpec(
    name="lpips-alex", file_name="alexnet-owt-7be5be79.pth",
    description="torchvision AlexNet ImageNet weights (IMAGENET1K_V1): the LPIPS v0.1 trunk "
                "(the calibration layers ship with the lpips package)",
    loader="vbench_i2v.feature_extractors.lpips_net:load_alexnet_backbone",
    urls=("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),
)
LPIPS_VGG_WEIGHTS = WeightSpec(
    name="lpips-vgg", file_name="vgg16-397923af.pth",
    description="torchvision VGG16 ImageNet weights (IMAGENET1K_V1): the trunk of LPIPS v0.1 on VGG",
    loader="vbench_i2v.feature_extractors.lpips_net:load_vgg16_backbone",
    urls=("https://download.pytorch.org/models/vgg16-397923af.pth",),
)
VIDEOMAE_G_WEIGHTS = WeightSpec(
    name="videomae-v2-g-ssv2", file_name="vit_g_hybrid_pt_1200e_ssv2_ft.pth",
    description="VideoMAE-v2 ViT-g/14 fine-tuned on SSv2 (content-debiased FVD features, 1408-d)",
    loader="vbench_i2v.feature_extractors.videomae_v2:load_published",
    urls=("https://huggingface.co/OpenGVLab/InternVideoMAE_models/resolve/main/mae-g/vit_g_hybrid_pt_1200e_ssv2_ft.pth",),
)
VJEPA_H_WEIGHTS = WeightSpec(
    name="vjepa-h16-ssv2", file_name="vith16.pth.tar",
    description="V-JEPA ViT-H/16 pretrained encoder (JEDi features; 'target_encoder' entry)",
    loader="vbench_i2v.feature_extractors.vjepa:load_encoder",
    urls=("https://dl.fbaipublicfiles.com/jepa/vith16/vith16.pth.tar",),
)
VJEPA_PROBE_WEIGHTS = WeightSpec(
    name="vjepa-h16-ssv2-probe", file_name="vith16-ssv2-probe.pth.tar",  # published as ssv2-probe.pth.tar
    description="V-JEPA ViT-H/16 SSv2 attentive probe (its pooler gives JEDi's 1280-d feature)",
    loader="vbench_i2v.feature_extractors.vjepa:load_probe",
    urls=("https://dl.fbaipublicfiles.com/jepa/vith16/ssv2-probe.pth.tar",),
)


EXTRACTORS: dict[str, ExtractorSpec] = {}
IDENTITY_EMBEDDERS: dict[str, ExtractorSpec] = {}
IMAGE_NETWORKS: dict[str, ExtractorSpec] = {}  # family "image": per-frame networks of VBench's dimensions
# The network of set metrics that name none of their own, and the identity embedder of identity
# metrics when neither the plan nor its extractor names one (the scoring engine reads these).
DEFAULT_EXTRACTOR = "resnext101-kinetics"
DEFAULT_IDENTITY = "facenet-vggface2"
# Said (with the network's name) beside set metrics on a network published numbers do not use.
UNPUBLISHED_NOTE = ("features from {name}: these values are not ResNeXt-101 Video FID or I3D FVD and are not "
                    "comparable with published numbers")


def register(spec: ExtractorSpec) -> ExtractorSpec:
    table = {"identity": IDENTITY_EMBEDDERS, "image": IMAGE_NETWORKS}.get(spec.family, EXTRACTORS)
    if spec.name in table:
        raise ValueError(f"extractor {spec.name!r} is already registered")
    table[spec.name] = spec
    return spec


register(ExtractorSpec(
    name="resnext101-kinetics", family="video",
    build="vbench_i2v.feature_extractors.resnext3d:ResNeXtFIDExtractor",
    weights=RESNEXT_WEIGHTS, dim=2048, batch_size_cpu=8, comparable_with_published=True,
    description="Video FID as in G3AN/ImaGINator: 3D ResNeXt-101 (Kinetics-400) 2048-d avgpool",
    # G3AN's evaluation: PIL Image.resize(BILINEAR) of each uint8 frame (torch's antialiased filter,
    # rounded back to 0..255), 0..255 minus the ActivityNet mean
    contract=InputContract(frames=16, sampling="central", size=(112, 112), resize=Resize.BILINEAR_AA_SHRINKING,
                           pixels=Pixels.ROUNDED, value_range=(0.0, 255.0), mean=(114.7748, 107.7354, 99.4750),
                           std=(1.0, 1.0, 1.0), min_frames=16,
                           note="PIL-like bilinear within 1 grey level of PIL (rounded to integers, as PIL's 8-bit "
                                "output)"),
))
register(ExtractorSpec(
    name="synthetic-probe", family="video",
    build="vbench_i2v.feature_extractors.synthetic_probe:ProbeVideoExtractor",
    weights=PROBE_WEIGHTS, dim=128, batch_size_cpu=32,
    description="the shipped probe of the synthetic dataset: 128-d video features (synthetic domain only)",
    contract=InputContract(frames=16, sampling="every-2nd", size=(64, 64), resize=Resize.BILINEAR_AA,
                           value_range=(-1.0, 1.0), min_frames=32, native_frames=32,
                           note="longer clips are resampled (nearest) to 32 frames first (recorded as a conversion)"),
))
register(ExtractorSpec(
    name="i3d-kinetics400", family="video",
    build="vbench_i2v.feature_extractors.i3d:I3DFVDExtractor", build_kwargs=(("route", "fvd"),),
    weights=I3D_WEIGHTS, dim=400, batch_size_cpu=4, comparable_with_published=True, seconds_per_clip_cpu=1.1,
    description="FVD's Inception-I3D (Kinetics-400), VideoGPT route: 400 logits averaged over time",
    contract=I3D_ROUTES["fvd"],
))
register(ExtractorSpec(
    name="i3d-kinetics400-styleganv", family="video",
    build="vbench_i2v.feature_extractors.i3d:I3DFVDExtractor", build_kwargs=(("route", "fvd-styleganv"),),
    weights=I3D_WEIGHTS, dim=400, batch_size_cpu=4, comparable_with_published=True, seconds_per_clip_cpu=0.6,
    description="the same I3D on stylegan-v's fvd2048_16f route (16 frames, stretched to 224x224)",
    contract=I3D_ROUTES["fvd-styleganv"],
))
register(ExtractorSpec(
    name="videomae-v2-g-ssv2", family="video",
    build="vbench_i2v.feature_extractors.videomae_v2:VideoMAEv2Extractor",
    weights=VIDEOMAE_G_WEIGHTS, dim=1408, batch_size_cpu=2, comparable_with_published=True,
    seconds_per_clip_cpu=90.0,  # 5.09 TFLOP per 16x224x224 clip at ~58 GFLOP/s (docs/fvd-successors.md)
    description="content-debiased FVD (cd-fvd): VideoMAE-v2 ViT-g/14 SSv2, fc_norm of the mean token, 1408-d",
    contract=InputContract(
        frames=16, sampling="first", size=(224, 224),
        resize=Resize.BILINEAR, value_range=(0.0, 1.0), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), min_frames=16,
        note="torch interpolate on float [0, 1] pixels, aspect ratio not kept (cd-fvd); cd-fvd feeds its loader's "
             "16-frame window (random start); the first 16 frames are the deterministic choice here"),
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
        resize=Resize.BILINEAR_AA_SHRINKING, value_range=(0.0, 1.0), mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225), min_frames=16,
        note="aspect ratio not kept; JEDi leaves frame choice and resizing to the caller's loader; the encoder's "
             "native grid "
             "(16 x 224 x 224) is used, so no position-table interpolation happens"),
))
register(ExtractorSpec(
    name="facenet-vggface2", family="identity",
    build="vbench_i2v.feature_extractors.face_identity:FaceEmbedder",
    weights=FACENET_WEIGHTS, dim=512, batch_size_cpu=64,
    description="facenet-pytorch InceptionResnetV1 (VGGFace2) on MTCNN face crops, 512-d",
    # facenet-pytorch's MTCNN crops and standardises ((x - 127.5) / 128, post_process) the face;
    # a frame without one goes through the same numbers whole (feature_extractors/face_identity.py)
    contract=InputContract(frames=None, sampling="per-frame", size=(160, 160), resize=Resize.BILINEAR_AA,
                           pixels=Pixels.FLOAT, value_range=(0.0, 255.0), mean=(127.5, 127.5, 127.5),
                           std=(128.0, 128.0, 128.0), max_aspect=4.0, crop=Crop.FACE,
                           face=(("detector", "facenet-pytorch MTCNN"), ("margin", 0), ("min_face_size", 20),
                                 ("thresholds", (0.6, 0.7, 0.7)), ("factor", 0.709), ("select", "largest")),
                           note="MTCNN face crop to 160x160; the whole frame (bilinear, antialiased) without a face"),
))
register(ExtractorSpec(
    name="synthetic-probe", family="identity",
    build="vbench_i2v.feature_extractors.synthetic_probe:ProbeIdentityEmbedder",
    weights=PROBE_WEIGHTS, dim=64, batch_size_cpu=256,
    description="the shipped probe's per-frame 64-d identity embedding (synthetic domain only)",
    contract=InputContract(frames=None, sampling="per-frame", size=(64, 64), resize=Resize.BILINEAR_AA,
                           value_range=(-1.0, 1.0)),
))

# dlib's face recognition (ACD without importing weights): the model files ship inside the PyPI
# package face-recognition-models, dlib itself as the prebuilt dlib-bin wheel; both come with the
# optional `dlib` extra (pyproject.toml pins them; these sha256 are of that pinned version's files).
# The pipeline's numbers (feature_extractors/face_dlib.py reads them): dlib's documented defaults
# of compute_face_descriptor (150x150 chip, padding 0.25, no jitter) after its HOG frontal face
# detector and 5-point shape predictor.
DLIB_REQUIREMENT = "face-recognition-models==0.3.0"
DLIB_CHIP, DLIB_PADDING, DLIB_JITTERS = 150, 0.25, 0
DLIB_DETECT_SIDE = 128  # upsample frames for the detector until the shorter side reaches this (at least once)
DLIB_RESNET_WEIGHTS = WeightSpec(
    name="dlib-resnet", file_name="dlib_face_recognition_resnet_model_v1.dat",
    description="dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1, Davis King): 128-d face "
                "descriptors; the file inside face-recognition-models 0.3.0",
    loader="vbench_i2v.feature_extractors.face_dlib:load_face_recognition_model",
    source_page='the face-recognition-models 0.3.0 package: pip install "vbench-i2v[dlib]"',
    size=22466066, sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    in_package="face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
    requirement=DLIB_REQUIREMENT, extra="dlib",
)
DLIB_SHAPE_PREDICTOR_WEIGHTS = WeightSpec(
    name="dlib-shape-predictor-5", file_name="shape_predictor_5_face_landmarks.dat",
    description="dlib's 5-point face landmark predictor (eye corners, nose base): the alignment of dlib-resnet's "
                "face chips; the file inside face-recognition-models 0.3.0",
    loader="vbench_i2v.feature_extractors.face_dlib:load_shape_predictor",
    source_page='the face-recognition-models 0.3.0 package: pip install "vbench-i2v[dlib]"',
    size=9150489, sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    in_package="face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
    requirement=DLIB_REQUIREMENT, extra="dlib",
)
register(ExtractorSpec(
    name="dlib-resnet", family="identity",
    build="vbench_i2v.feature_extractors.face_dlib:DlibFaceEmbedder",
    weights=DLIB_RESNET_WEIGHTS, extra_weights=(DLIB_SHAPE_PREDICTOR_WEIGHTS,), dim=128, batch_size_cpu=32,
    description="dlib ResNet face descriptors (128-d) on dlib-aligned face chips; no weights to import "
                '(pip install "vbench-i2v[dlib]")',
    contract=InputContract(
        frames=None, sampling="per-frame", size=(DLIB_CHIP, DLIB_CHIP),
        resize=Resize.BILINEAR_AA, pixels=Pixels.PIL_UINT8, value_range=(0.0, 255.0), max_aspect=4.0,
        crop=Crop.FACE,
        face=(("detector", "dlib get_frontal_face_detector (HOG)"), ("detect_side", DLIB_DETECT_SIDE),
              ("select", "highest score"), ("landmarks", "shape_predictor 5-point"), ("chip", DLIB_CHIP),
              ("padding", DLIB_PADDING), ("num_jitters", DLIB_JITTERS)),
        note=f"dlib get_frontal_face_detector on the frame upsampled max(1, ceil(log2({DLIB_DETECT_SIDE}/shorter "
             f"side))) times, the highest-scoring face, 5-point shape_predictor, get_face_chip {DLIB_CHIP}x"
             f"{DLIB_CHIP} padding {DLIB_PADDING}, num_jitters {DLIB_JITTERS}; the whole frame (PIL bilinear) to "
             f"{DLIB_CHIP}x{DLIB_CHIP} without a face. RGB uint8 frames as given (dlib normalises inside the network); dlib computes where it was built "
             "to (the dlib-bin wheel: the CPU), whatever --device says; L2 distances, same person below 0.6 in "
             "dlib's documentation"),
))

# Per-video model families (``MetricSpec.needs_model``) and their builders; the engine builds each
# family once per scoring call. A family not listed here may come from its metric's
# ``provenance["model_builder"]`` (a plugin's own network).
MODEL_FAMILIES: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> ModelFamily:
    if family.name in MODEL_FAMILIES:
        raise ValueError(f"model family {family.name!r} is already registered")
    MODEL_FAMILIES[family.name] = family
    return family


register_family(ModelFamily(
    name="identity", build="vbench_i2v.metrics.defs.identity:build_embedder",
    description="per-frame identity embedder (ACD): the plan's identity, else its extractor when that is also "
                "an identity embedder, else DEFAULT_IDENTITY",
    networks=(DEFAULT_IDENTITY,), choices="identity"))
register_family(ModelFamily(
    name="lpips", build="vbench_i2v.metrics.defs.lpips:build_lpips",
    description="LPIPS v0.1 on the AlexNet trunk (lpips-alex weights)", networks=("lpips-alex",)))
register_family(ModelFamily(
    name="classifier", build="vbench_i2v.metrics.defs.label_acc:build_classifier",
    description="a probe with a class head: a probe folder or object, or the shipped synthetic probe's head",
    networks=("synthetic-probe",)))

# RAFT optical flow (dynamic-degree): a network a metric runs inside itself, so not an
# `--extractor` choice (not in EXTRACTORS); feature_extractors/raft.py reads this entry.
RAFT_THINGS_WEIGHTS = WeightSpec(
    name="raft-things", file_name="raft-things.pth",
    description="RAFT (Teed & Deng 2020), full model trained on FlyingChairs + FlyingThings3D: the optical "
                "flow of VBench's dynamic_degree ('module.'-prefixed DataParallel state dict)",
    loader="vbench_i2v.feature_extractors.raft:load_published",
    # Published only inside models.zip (with raft-chairs/-kitti/-sintel/-small), so there is no direct URL
    # to fetch; the user unzips it and imports models/raft-things.pth.
    source_page="https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip (princeton-vl/RAFT "
                "download_models.sh; unzip, then import models/raft-things.pth)",
    # Not published by the authors; the same digest is recorded independently for the file in models.zip
    # and for the identical copy in sczhou/ProPainter's v0.1.0 release (21,108,000 bytes).
    sha256="fcfa4125d6418f4de95d84aec20a3c5f4e205101715a79f193243c186ac9a7e1",
)
RAFT_THINGS = ExtractorSpec(
    name="raft-things", family="flow", build="vbench_i2v.feature_extractors.raft:RAFTFlow",
    weights=RAFT_THINGS_WEIGHTS, dim=2, batch_size_cpu=2, comparable_with_published=True,
    description="RAFT-things optical flow, 20 iterations, convex x8 upsampling, at the size padded to multiples of 8",
    contract=InputContract(
        frames=None, sampling="all", size=None,
        resize=Resize.NONE, value_range=(-1.0, 1.0), max_aspect=100.0,
        note="native size; each pair padded to multiples of 8 by edge replication, split evenly (odd: one more "
             "row/column at the bottom/right) inside the network; RGB 0..255 mapped to 2x/255-1; consecutive pairs of the frames dynamic-degree keeps "
             "(0, k, 2k, ... with k = max(1, round(fps/8)), about 8 fps; fewer than 2 kept frames: no pair); "
             "both sides at least 57 pixels (64 after padding); fp32"),
)

# --- per-frame image networks of VBench's dimensions (family "image", docs/vbench-dims.md) -------
# One network serves several metric uses; each use's preprocessing is a FrameRecipe (data), and
# ``embed_frames(frames, use)`` applies it. Computed in fp32 on every device (VBench runs CLIP in
# fp16 on a GPU, DINO in fp32).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)

DINO_VITB16_WEIGHTS = WeightSpec(
    name="dino-vitb16", file_name="dino_vitbase16_pretrain.pth",
    description="DINO ViT-B/16 backbone (Caron et al. 2021), plain state dict; VBench's subject consistency",
    loader="vbench_i2v.feature_extractors.dino_vit:load_published",
    urls=("https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",),
    # Meta publishes no checksum; this hash is the one several independent public projects record
    # for this file (with 85,798,656 parameters in 150 tensors, which the loader checks)
    sha256="bf34ad0f424b9029b593e8dc3ed553bf26e88bcba0d32bf3e62a6209cb64c85e",
)
CLIP_VIT_B32_WEIGHTS = WeightSpec(
    name="clip-vit-b32", file_name="ViT-B-32.pt",
    description="OpenAI CLIP ViT-B/32 TorchScript archive (only the image tower's tensors are read; "
                "its code is never run); VBench's background consistency",
    loader="vbench_i2v.feature_extractors.clip_vit:load_published",
    urls=("https://openaipublic.azureedge.net/clip/models/"
          "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",),
    sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",  # OpenAI's URL carries it
)
CLIP_VIT_L14_WEIGHTS = WeightSpec(
    name="clip-vit-l14", file_name="ViT-L-14.pt",
    description="OpenAI CLIP ViT-L/14 TorchScript archive (only the image tower's tensors are read; "
                "its code is never run); the embedding of VBench's aesthetic quality",
    loader="vbench_i2v.feature_extractors.clip_vit:load_published",
    urls=("https://openaipublic.azureedge.net/clip/models/"
          "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",),
    sha256="b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",  # OpenAI's URL carries it
)
LAION_AESTHETIC_WEIGHTS = WeightSpec(
    name="laion-aesthetic-linear", file_name="sa_0_4_vit_l_14_linear.pth",
    description="LAION aesthetic predictor v1: linear head 768 -> 1 on L2-normalised CLIP ViT-L/14 "
                "image embeddings (not the 'improved' MLP predictor)",
    loader="vbench_i2v.feature_extractors.clip_vit:load_aesthetic_head",
    urls=("https://raw.githubusercontent.com/LAION-AI/aesthetic-predictor/main/sa_0_4_vit_l_14_linear.pth",),
    size=4071,  # the git blob in LAION-AI/aesthetic-predictor (unchanged since its upload)
    sha256="2cd4e60f4f24ae3bcd57b847b13c1f3ba27edc28cc1a7f9ce74ee9f421243cba",
)

_VBENCH_CLIP_RECIPE = FrameRecipe(
    short_side=224, kernel="bicubic", antialias=False, crop=224, pixels="float", mean=CLIP_MEAN, std=CLIP_STD,
    source="VBench vbench/utils.py clip_transform: Resize(224, BICUBIC, antialias=False), CenterCrop(224), "
           "/255, CLIP mean/std, on float frames")


def _image_network(**kw) -> ExtractorSpec:
    """An ``image`` entry: its contract is its first use's."""
    return register(ExtractorSpec(family="image", contract=kw["uses"][0][1].contract(), **kw))


DINO_VITB16 = _image_network(
    name="dino-vitb16", build="vbench_i2v.feature_extractors.dino_vit:DinoEmbedder",
    weights=DINO_VITB16_WEIGHTS, dim=768, batch_size_cpu=16, comparable_with_published=True,
    description="DINO ViT-B/16: CLS token after the final LayerNorm, 768-d (position table bicubically "
                "resized for frames that are not 224x224)",
    uses=(
        ("i2v-subject-frames", FrameRecipe(
            short_side=256, kernel="bicubic", antialias=True, crop=224, pixels="float",
            mean=IMAGENET_MEAN, std=IMAGENET_STD,
            source="VBench-I2V vbench2_beta_i2v/utils.py dino_transform: Resize(256, BICUBIC), CenterCrop(224); "
                   "no antialias argument there, so it follows torchvision (on from 0.17): antialias on is "
                   "chosen here")),
        ("i2v-subject-image", FrameRecipe(
            short_side=256, kernel="bicubic", antialias=True, crop=224, pixels="pil-uint8",
            mean=IMAGENET_MEAN, std=IMAGENET_STD,
            source="VBench-I2V dino_transform_Image: the conditioning image through PIL Resize(256, BICUBIC), "
                   "CenterCrop(224), ToTensor")),
        ("subject-consistency", FrameRecipe(
            short_side=224, kernel="bilinear", antialias=False, crop=None, pixels="float",
            mean=IMAGENET_MEAN, std=IMAGENET_STD,
            source="VBench vbench/utils.py dino_transform: Resize(224, antialias=False) (bilinear), no crop")),
    ),
)
CLIP_VIT_B32 = _image_network(
    name="clip-vit-b32", build="vbench_i2v.feature_extractors.clip_vit:ClipEmbedder",
    weights=CLIP_VIT_B32_WEIGHTS, dim=512, batch_size_cpu=32, comparable_with_published=True,
    description="OpenAI CLIP ViT-B/32 image tower: ln_post(CLS) @ proj, 512-d (encode_image), fp32",
    uses=(("background-consistency", _VBENCH_CLIP_RECIPE),),
)
CLIP_VIT_L14 = _image_network(
    name="clip-vit-l14", build="vbench_i2v.feature_extractors.clip_vit:ClipEmbedder",
    weights=CLIP_VIT_L14_WEIGHTS, dim=768, batch_size_cpu=8, comparable_with_published=True,
    description="OpenAI CLIP ViT-L/14 image tower: ln_post(CLS) @ proj, 768-d (encode_image), fp32",
    uses=(("aesthetic-quality", _VBENCH_CLIP_RECIPE),),
)
LAION_AESTHETIC_LINEAR = _image_network(
    name="laion-aesthetic-linear", build="vbench_i2v.feature_extractors.clip_vit:AestheticScorer",
    weights=LAION_AESTHETIC_WEIGHTS, extra_weights=(CLIP_VIT_L14_WEIGHTS,), dim=1, batch_size_cpu=8,
    comparable_with_published=True,
    description="LAION aesthetic v1 linear head on the L2-normalised CLIP ViT-L/14 embedding: the raw score "
                "(about 1..10; VBench's aesthetic quality divides it by 10)",
    uses=(("aesthetic-quality", _VBENCH_CLIP_RECIPE),),
)

# Weight files that no extractor entry above carries (e.g. backbones used inside a metric).
EXTRA_WEIGHTS: list[WeightSpec] = [LPIPS_ALEX_WEIGHTS, LPIPS_VGG_WEIGHTS, RAFT_THINGS_WEIGHTS]


def all_weight_specs() -> dict[str, WeightSpec]:
    """Every weight file any registered network uses, by name (one spec per name)."""
    out: dict[str, WeightSpec] = {}
    for spec in list(EXTRACTORS.values()) + list(IDENTITY_EMBEDDERS.values()) + list(IMAGE_NETWORKS.values()):
        for w in (spec.weights, *spec.extra_weights):
            out.setdefault(w.name, w)
    for w in EXTRA_WEIGHTS:
        out.setdefault(w.name, w)
    return out


def network_weights(name: str) -> tuple[WeightSpec, ...]:
    """The weight files of a catalog network (its weights, then its extra weights), or of a weight
    file named directly; () for a name the catalog does not know."""
    for table in (EXTRACTORS, IDENTITY_EMBEDDERS, IMAGE_NETWORKS, {RAFT_THINGS.name: RAFT_THINGS}):
        if name in table:
            return (table[name].weights, *table[name].extra_weights)
    w = all_weight_specs().get(name)
    return (w,) if w is not None else ()


def metric_networks(spec) -> tuple[str, ...]:
    """The catalog networks a metric (a ``MetricSpec``) can run on, read from its declaration: a set
    metric's network (``spec.network()``) and, unless ``extractor_fixed``, every video network
    (``--extractor`` picks one); a per-video metric's ``needs_model`` family's ``networks`` and every
    entry of its ``choices`` family, or for a family of the metric's own (``provenance["model_builder"]``)
    the ``provenance["networks"]`` it declares beside its builder."""
    if spec.kind == "set":
        return tuple(dict.fromkeys([spec.network(), *([] if spec.extractor_fixed else EXTRACTORS)]))
    if spec.needs_model is None:
        return ()
    family = MODEL_FAMILIES.get(spec.needs_model)
    if family is None:
        return tuple(spec.provenance.get("networks", ()))
    chosen = list({"identity": IDENTITY_EMBEDDERS, "image": IMAGE_NETWORKS, "video": EXTRACTORS}[family.choices]
                  if family.choices else [])
    return tuple(dict.fromkeys([*family.networks, *chosen]))


def metrics_using(weight_name: str) -> tuple[str, ...]:
    """The registered metrics (in display order) that can run on the weight file ``weight_name``:
    derived from the metric registry (:func:`metric_networks`), never kept by hand. ``vbench weights
    list`` shows it."""
    from vbench_i2v.metrics.registry import all_metrics

    return tuple(name for name, spec in all_metrics().items()
                 if any(w.name == weight_name for net in metric_networks(spec) for w in network_weights(net)))
