"""The metric contract, checked for every registered metric (``registry.all_metrics()``).

Each metric's declaration must be valid (kind, direction, decimals, description, network), and its
value, run through ``vbench_i2v.metrics.engine.compute_metrics`` on small in-memory videos, must
equal an independent reference (:data:`REFERENCES`): scikit-image per frame for SSIM/PSNR, the
``lpips`` package for LPIPS, ``scipy.linalg.sqrtm`` for the Frechet distances and the kernel sums
of the MMD estimators (KID, KVD, JEDi) from ``tests/references.py``, plain loops for ACD,
``numpy.polyfit`` for the 1/N extrapolations. A registered metric without a reference fails, so a new metric has to bring one.

Networks are never loaded from published weights here. A metric on a video network or an
identity embedder runs with a small object injected where the engine builds it
(``vbench_i2v.feature_extractors.build_video_extractor`` / ``build_identity_embedder``, looked up
at call time), and its reference computes the statistic on that object's outputs; the test checks
that the engine asked for the network the metric declares and used the injected one. Metrics on
networks whose weights are gigabytes (:data:`HEAVY_NETWORKS`) can only be covered that way, and
their entry must inject. LPIPS runs its real network with a random AlexNet trunk imported through
the weights registry, against the ``lpips`` package holding the same trunk.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dist_fakes import MeanColourEmbedder, MomentsExtractor
from references import frechet_of, jedi_kernel, mmd2_biased, mmd2_unbiased, seeded_stream

import vbench_i2v.feature_extractors as fx
from vbench_i2v.catalog import DEFAULT_EXTRACTOR, EXTRACTORS
from vbench_i2v.metrics import registry
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.metrics.engine import compute_metrics

N, T, H, W = 20, 5, 32, 32  # small, but N >= 10 for the 1/N fits and 32 px for LPIPS's AlexNet taps
SETTINGS = dict(seed=3, bootstrap_reps=50, set_bootstrap_reps=20, kid_subsets=4, kid_subset_size=1000)

# Scoring networks whose published weights are too big to build in a test (I3D for FVD, the ViT
# video encoders of cd-FVD and JEDi): metrics on them are covered with an injected extractor only.
HEAVY_NETWORKS = ("i3d-kinetics400", "i3d-kinetics400-styleganv", "videomae-v2-g-ssv2", "vjepa-h16-ssv2",
                  "vjepa-h16-ssv2-probe")

pytestmark = pytest.mark.filterwarnings("ignore:.*(deprecated since 0.13):UserWarning")  # lpips' torchvision call


# --- inputs -----------------------------------------------------------------------------------
def make_videos(seed: int = 0):
    """``real``/``fake`` dicts of uint8 T x H x W x 3; each fake is its real plus noise of its own
    strength, so per-video values differ and no frame pair is identical (PSNR stays finite)."""
    rng = np.random.default_rng(seed)
    real, fake = {}, {}
    for i in range(N):
        base = rng.integers(20, 236, (1, H, W, 3)).astype(np.int16)
        drift = rng.integers(-12, 13, (T, 1, 1, 3)).cumsum(0).astype(np.int16)
        r = np.clip(base + drift + rng.integers(-8, 9, (T, H, W, 3)), 0, 255).astype(np.uint8)
        noise = rng.normal(0, 4 + 2 * i, (T, H, W, 3)) + rng.normal(0, 6, (1, 1, 1, 3))
        real[f"v{i:02d}"] = r
        fake[f"v{i:02d}"] = np.clip(np.round(r + noise), 0, 255).astype(np.uint8)
    return real, fake


class InjectedMoments(MomentsExtractor):
    """A 6-d video feature extractor (channel means and stds, centred and scaled to O(1) so the
    cubic kernels stay well conditioned), standing in for any video network."""

    name = "injected-moments"

    def features(self, videos):
        return (super().features(videos) - np.array([128.0, 128, 128, 0, 0, 0])) / 32.0


class InjectedColour(MeanColourEmbedder):
    """A per-frame 3-d identity embedding (mean colour), standing in for any face network."""

    name = "injected-colour"


@dataclass
class Case:
    """What a reference sees: the videos, the frames paired metrics score, the network it injected."""

    real: dict
    fake: dict
    frames: np.ndarray
    net: object = None


# --- independent references -------------------------------------------------------------------
def ssim_reference(c: Case) -> dict:
    return {k: float(np.mean([structural_similarity(c.fake[k][t], c.real[k][t], gaussian_weights=True, sigma=1.5,
                                                    use_sample_covariance=False, data_range=255, channel_axis=-1)
                              for t in c.frames])) for k in c.fake}


def psnr_reference(c: Case) -> dict:
    return {k: float(np.mean([peak_signal_noise_ratio(c.real[k][t], c.fake[k][t], data_range=255)
                              for t in c.frames])) for k in c.fake}


def _lpips_input(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def lpips_reference(c: Case) -> dict:
    """The ``lpips`` package (its own AlexNet slices and calibration) on each scored frame pair."""
    with torch.no_grad():
        return {k: float(c.net(_lpips_input(c.fake[k][c.frames]), _lpips_input(c.real[k][c.frames])).mean())
                for k in c.fake}


def lpips_cond_reference(c: Case) -> dict:
    """Each scored frame against the conditioning image (the real partner's first frame)."""
    with torch.no_grad():
        return {k: float(c.net(_lpips_input(c.fake[k][c.frames]),
                               _lpips_input(np.repeat(c.real[k][:1], len(c.frames), 0))).mean())
                for k in c.fake}


def _features(c: Case):
    names = sorted(c.fake)
    return (c.net.features(np.stack([c.real[k] for k in names])),
            c.net.features(np.stack([c.fake[k] for k in names])))


def frechet_reference(c: Case) -> float:
    """Covariances with 1/(N-1) (Video FID, FVD's VideoGPT route)."""
    return frechet_of(*_features(c))


def frechet_population_reference(c: Case) -> float:
    """Covariances with 1/N (stylegan-v's FVD route)."""
    return frechet_of(*_features(c), ddof=0)


def cd_fvd_reference(c: Case) -> float:
    """cd-fvd: features rounded to float32 as its pipeline stores them, covariances with 1/N."""
    x, y = (a.astype(np.float32).astype(np.float64) for a in _features(c))
    return frechet_of(x, y, ddof=0)


def mmd_cubic_unbiased_reference(c: Case) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3 over all videos (KID, KVD): the test's subset
    size is >= N with equal N on both sides, so every subset the metric draws is the whole set."""
    return mmd2_unbiased(*_features(c))


def jedi_reference(c: Case) -> dict:
    """JEDi: 100 x MMD^2 with k(a, b) = (a.b / d)^2; biased (all pairs, the published value) and
    unbiased (diagonals dropped, reported beside it)."""
    x, y = _features(c)
    return {"value": 100 * mmd2_biased(x, y, jedi_kernel), "unbiased": 100 * mmd2_unbiased(x, y, jedi_kernel)}


def frechet_inf_reference(key: str) -> Callable:
    """Chong & Forsyth's extrapolation as documented in ``vbench_i2v.metrics.extrapolate``: Frechet
    of random fake subsets (10 sizes N/5..N, 3 draws each, 1 at N) against the whole real set, line
    ``a + b/N`` fitted by ``numpy.polyfit``, value = a. The subsets follow the documented seeding
    (``seeded_stream(seed, key)`` -> one ``numpy`` generator), so the points are the metric's points."""

    def compute(c: Case) -> dict:
        x, y = _features(c)
        rng = np.random.default_rng(int(seeded_stream(SETTINGS["seed"], key).integers(1 << 31)))
        ns = np.unique(np.linspace(max(N // 5, 2), N, 10).astype(int))
        pts = [(n, frechet_of(y[np.sort(rng.choice(N, n, replace=False))], x))
               for n in ns for _ in range(1 if n == N else 3)]
        slope, intercept = np.polyfit([1 / n for n, _ in pts], [s for _, s in pts], 1)
        return {"value": float(intercept), "slope": float(slope), "ns": [int(n) for n in ns],
                "points": [[n, s] for n, s in pts]}

    return compute


def acd_c_reference(c: Case) -> dict:
    """Mean L2 distance over all unordered pairs of frames (every generated frame embedded)."""
    out = {}
    for k, v in c.fake.items():
        e = c.net.embed(v)[0]
        pairs = [np.sqrt(((e[i] - e[j]) ** 2).sum()) for i in range(len(e)) for j in range(i + 1, len(e))]
        out[k] = float(np.mean(pairs))
    return out


def acd_i_reference(c: Case) -> dict:
    """Mean L2 distance of each generated frame to the conditioning image, which without a
    conditioning folder is the first frame of the real partner video (all frames, whatever the
    paired-frame setting)."""
    out = {}
    for k, v in c.fake.items():
        e = c.net.embed(v)[0]
        cond = c.net.embed(c.real[k][:1])[0][0]
        out[k] = float(np.mean([np.sqrt(((f - cond) ** 2).sum()) for f in e]))
    return out


LABELS = {f"v{i:02d}": i % 3 for i in range(N)}  # the labels the fake videos were "conditioned on"


class InjectedClassifier:
    """A 3-class video classifier standing in for a trained probe: the brightest mean colour channel."""

    name = "injected-classifier"
    labels = ["red", "green", "blue"]
    has_class_head = True
    weights_sha256 = None

    def predict(self, videos):
        return np.asarray(videos, np.float64).mean(axis=(1, 2, 3)).argmax(1)


def label_acc_reference(c: Case) -> dict:
    """1 where the classifier's prediction (computed here from the pixels) is the requested label."""
    return {k: float(int(np.argmax(v.reshape(-1, 3).astype(np.float64).mean(0))) == LABELS[k])
            for k, v in c.fake.items()}


def temporal_flickering_reference(c: Case) -> dict:
    """VBench's temporal_flickering from its description: per consecutive frame pair the mean over
    pixels and channels of |x_{t+1} - x_t| (float64), averaged over pairs; (255 - that) / 255."""
    out = {}
    for k, v in c.fake.items():
        f = v.astype(np.float64)
        out[k] = float((255.0 - np.mean([np.abs(f[t + 1] - f[t]).mean() for t in range(len(f) - 1)])) / 255.0)
    return out


class InjectedFlow:
    """Stands in for RAFT (dynamic-degree): per pixel a "flow" u = |b - a| averaged over colour / 50,
    v = 0, at the frame size (32 px frames are already a multiple of 8, so that is RAFT's padded
    size); batch_size 2 so the metric's batched, early-exiting scan is exercised."""

    name = "injected-flow"
    weights_sha256 = None
    batch_size = 2

    def flow(self, a, b):
        d = np.abs(np.asarray(b, np.float64) - np.asarray(a, np.float64)).mean(-1) / 50.0
        return np.stack([d, np.zeros_like(d)], 1)


def dynamic_degree_reference(c: Case) -> dict:
    """VBench's dynamic_degree from its description, pair by pair with the stand-in flow: in-memory
    videos declare no frame rate, so every frame is kept; a pair moves when the mean of its largest
    int(0.05 H W) magnitudes exceeds 6 min(H, W) / 256; dynamic once round(4 T / 16) pairs moved."""
    out = {}
    for k, v in c.fake.items():
        t, h, w = v.shape[:3]
        thres, need, moved, dynamic = 6.0 * min(h, w) / 256, round(4 * t / 16), 0, False
        for i in range(t - 1):
            f = c.net.flow(v[i:i + 1], v[i + 1:i + 2])[0]
            mag = np.sort(np.hypot(f[0], f[1]).ravel())[::-1]
            moved += mag[:int(0.05 * h * w)].mean() > thres
            if moved >= need:
                dynamic = True
                break
        out[k] = float(dynamic)
    return out


class InjectedImageNet:
    """Stands in for the per-frame image networks of the VBench dimensions (DINO, CLIP, CLIP + LAION
    head): a frame's feature is its 4x4 block-mean grey image minus 128 (16-d, so cosines between
    frames vary and some are negative), scaled by a per-use factor so a wrong use is visible in the
    aesthetic score (the consistency formulas normalise the scale away, the "image" use adds 3)."""

    weights_sha256 = None
    dim = 16
    SCALE = {"subject-consistency": 1.0, "background-consistency": 2.0, "i2v-subject-frames": 1.0,
             "i2v-subject-image": 1.0, "aesthetic-quality": 0.05}

    def __init__(self, name: str):
        self.name = name

    def contract_for(self, use):
        return None

    def embed_frames(self, frames, use=None):
        f = np.asarray(frames, np.float64).mean(-1)
        n, h, w = f.shape
        g = f.reshape(n, 4, h // 4, 4, w // 4).mean((2, 4)).reshape(n, 16) - 128.0
        if use == "aesthetic-quality":  # the LAION scorer gives one score per frame
            return self.SCALE[use] * g.sum(1, keepdims=True)
        return self.SCALE[use] * g + (3.0 if use == "i2v-subject-image" else 0.0)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def consistency_reference(use: str) -> Callable:
    """VBench's subject/background consistency on the stand-in's features of that use: per video
    mean_{i>=1} (max(0, cos(f_{i-1}, f_i)) + max(0, cos(f_0, f_i))) / 2 (equal frame counts, so the
    frame-pair weighted set value is the mean the contract test checks)."""

    def compute(c: Case) -> dict:
        out = {}
        for k, v in c.fake.items():
            f = _unit_rows(c.net.embed_frames(v, use))
            out[k] = float(np.mean([(max(0.0, f[i - 1] @ f[i]) + max(0.0, f[0] @ f[i])) / 2
                                    for i in range(1, len(f))]))
        return out

    return compute


def i2v_subject_reference(c: Case) -> dict:
    """0.4 max_i max(0, cos(g, f_i)) + 0.3 mean + 0.3 min of max(0, cos(f_{i-1}, f_i)); g = the
    conditioning image (the real partner's first frame) under the image use."""
    out = {}
    for k, v in c.fake.items():
        f = _unit_rows(c.net.embed_frames(v, "i2v-subject-frames"))
        g = _unit_rows(c.net.embed_frames(c.real[k][:1], "i2v-subject-image"))[0]
        consec = [max(0.0, f[i - 1] @ f[i]) for i in range(1, len(f))]
        out[k] = float(0.4 * max(max(0.0, g @ x) for x in f) + 0.3 * np.mean(consec) + 0.3 * min(consec))
    return out


def aesthetic_reference(c: Case) -> dict:
    """Mean over frames of the scorer's per-frame score, divided by 10."""
    return {k: float(c.net.embed_frames(v, "aesthetic-quality").mean() / 10.0) for k, v in c.fake.items()}


@dataclass(frozen=True)
class Reference:
    """``compute(case)``: a float or a dict of result fields (set metrics), or ``{video: value}``
    (per-video metrics). ``network``: what the test injects: ``video`` / ``identity`` (an object
    in place of the engine's builder), ``lpips`` (the real LPIPS network with a random trunk), or
    None (pixels only; then the engine must build nothing)."""

    compute: Callable
    network: str | None = None
    rtol: float = 1e-6
    atol: float = 1e-9


REFERENCES: dict[str, Reference] = {
    "ssim": Reference(ssim_reference, atol=1e-6),  # the batched filter agrees with skimage to ~1e-7
    "psnr": Reference(psnr_reference),
    "lpips": Reference(lpips_reference, network="lpips", rtol=1e-5, atol=1e-6),
    "lpips-cond": Reference(lpips_cond_reference, network="lpips", rtol=1e-5, atol=1e-6),
    "fid": Reference(frechet_reference, network="video"),
    "fid-inf": Reference(frechet_inf_reference("fid-inf"), network="video", rtol=1e-6, atol=1e-6),
    "kid": Reference(mmd_cubic_unbiased_reference, network="video", rtol=1e-8, atol=1e-10),
    "fvd": Reference(frechet_reference, network="video"),
    "fvd-styleganv": Reference(frechet_population_reference, network="video"),
    "kvd": Reference(mmd_cubic_unbiased_reference, network="video", rtol=1e-8, atol=1e-10),
    "fvd-inf": Reference(frechet_inf_reference("fvd-inf"), network="video", rtol=1e-6, atol=1e-6),
    "cd-fvd": Reference(cd_fvd_reference, network="video"),
    "jedi": Reference(jedi_reference, network="video", rtol=1e-8, atol=1e-12),
    "acd-c": Reference(acd_c_reference, network="identity"),
    "acd-i": Reference(acd_i_reference, network="identity"),
    "label-acc": Reference(label_acc_reference, network="classifier", rtol=0, atol=0),
    "temporal-flickering": Reference(temporal_flickering_reference, rtol=1e-12, atol=1e-12),
    "dynamic-degree": Reference(dynamic_degree_reference, network="raft", rtol=0, atol=0),
    "subject-consistency": Reference(consistency_reference("subject-consistency"), network="image"),
    "background-consistency": Reference(consistency_reference("background-consistency"), network="image"),
    "i2v-subject": Reference(i2v_subject_reference, network="image"),
    "aesthetic-quality": Reference(aesthetic_reference, network="image"),
}

METRICS = registry.all_metrics()


def reference_for(name: str) -> Reference:
    spec = METRICS[name]
    if name not in REFERENCES:
        heavy = spec.extractor in HEAVY_NETWORKS
        how = (f"its network {spec.extractor!r} needs big weights, so add an entry that injects a small "
               "extractor (network='video') and computes the statistic on its features"
               if heavy else "add an independent reference implementation (a peer package or a hand computation)")
        pytest.fail(f"metric {name!r} is registered but has no entry in REFERENCES in "
                    f"tests/test_metric_contract.py: {how}")
    return REFERENCES[name]


# --- declarations -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(METRICS))
def test_declared_fields_are_valid(name):
    spec = METRICS[name]
    assert spec.name == name and re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", name), \
        f"{name!r}: names are lower case without spaces or commas (parse_metrics lower-cases input)"
    assert spec.kind in registry.KINDS
    assert isinstance(spec.higher_is_better, bool) and spec.direction in (1, -1)
    assert registry.direction(name) == spec.direction and registry.decimals(name) == spec.decimals
    assert isinstance(spec.decimals, int) and 0 <= spec.decimals <= 8
    assert isinstance(spec.description, str) and spec.description.strip() and "\n" not in spec.description
    assert set(spec.needs) <= {"real", "cond", "label"}
    if spec.kind == "set":
        assert callable(spec.set_level) and spec.reduction == "features"
        net = spec.extractor or DEFAULT_EXTRACTOR
        assert net in EXTRACTORS, f"{name}: extractor {net!r} is not in the extractor catalog"
        assert spec.needs_model is None
    else:
        assert callable(spec.per_video) and spec.reduction == "per-video" and not spec.extractor_fixed
        if spec.needs_model:  # its family's builder: the catalog's, or (a plugin family) its own
            assert callable(spec.model_builder()), \
                f"{name}: needs a {spec.needs_model!r} model: add its family to catalog.MODEL_FAMILIES " \
                "or declare provenance['model_builder']"
    assert registry.get_metric(name.upper()) is spec  # looked up case-insensitively


def test_heavy_networks_are_catalogued():
    """The exemption list names real catalog entries (a typo here would exempt nothing and hide nothing)."""
    from vbench_i2v import weights

    for net in HEAVY_NETWORKS:
        assert net in EXTRACTORS or net in weights.WEIGHTS, net


# --- values against the references ------------------------------------------------------------
def cases():
    out = []
    for name, spec in METRICS.items():
        out.append(pytest.param(name, False, id=name))
        if spec.kind in ("paired", "conditioned"):
            out.append(pytest.param(name, True, id=f"{name}-with-frame0"))
    return out


@pytest.fixture(scope="module")
def lpips_trunk(tmp_path_factory):
    """A random AlexNet trunk saved in torchvision's key format, and the ``lpips`` package's model
    holding the same trunk (its own slicing, scaling and v0.1 calibration layers)."""
    lpips = pytest.importorskip("lpips")
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    features = torchvision.models.alexnet().features
    path = tmp_path_factory.mktemp("lpips") / "alexnet-features.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    ref = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
    for i in range(1, 6):
        for idx, mod in getattr(ref.net, f"slice{i}").named_children():
            mod.load_state_dict(features[int(idx)].state_dict())
    return path, ref.eval()


@pytest.fixture
def injected(monkeypatch, tmp_path, request):
    """Replace the engine's network builders; record which network names were asked for."""
    asked = {"video": [], "identity": []}
    nets = {"video": InjectedMoments(), "identity": InjectedColour()}
    resolve = fx.resolve_extractor

    def builder(family):
        def build(name, device="cpu", batch_size=None):
            asked[family].append(name)
            return resolve(nets[family] if isinstance(name, str) else name, family)
        return build

    monkeypatch.setattr(fx, "build_video_extractor", builder("video"))
    monkeypatch.setattr(fx, "build_identity_embedder", builder("identity"))

    def lpips():
        """Import the random trunk as ``lpips-alex`` into a fresh weights home (the real loader runs)."""
        from vbench_i2v import weights

        path, ref = request.getfixturevalue("lpips_trunk")
        monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
        monkeypatch.setitem(weights.WEIGHTS, "lpips-alex",
                            dataclasses.replace(weights.WEIGHTS["lpips-alex"], sha256=None, size=None))
        weights.import_file("lpips-alex", path)
        return ref

    nets["lpips"] = lpips
    nets["classifier"] = InjectedClassifier()
    # per-video model families of the VBench dimensions: the stand-in replaces the metric's builder
    for family, obj in {"raft": InjectedFlow()}.items():
        nets[family] = obj
        for spec in METRICS.values():
            if spec.needs_model == family:
                monkeypatch.setitem(spec.provenance, "model_builder", lambda *a, _obj=obj, **k: _obj)
    # per-frame image networks (DINO, CLIP): the catalog builder returns the stand-in by name
    from vbench_i2v.feature_extractors import image_vit

    image_nets = {}

    def build_image(name, device="cpu", batch_size=None):
        asked.setdefault("image", []).append(name)
        image_nets.setdefault(name, resolve(InjectedImageNet(name), "image"))
        return image_nets[name]

    monkeypatch.setattr(image_vit, "build_image_network", build_image)
    nets["image"] = InjectedImageNet("any")
    return nets, asked


@pytest.mark.parametrize("name, with_frame0", cases())
def test_value_equals_the_reference(name, with_frame0, injected):
    spec = METRICS[name]
    ref = reference_for(name)
    nets, asked = injected
    if spec.extractor in HEAVY_NETWORKS:
        assert ref.network == "video", f"{name}: a metric on {spec.extractor} must be checked with an injected extractor"
    net = nets["lpips"]() if ref.network == "lpips" else nets.get(ref.network)
    real, fake = make_videos()
    frames = np.arange(T) if with_frame0 else np.arange(1, T)
    extra = {"extractor": net, "labels": LABELS} if ref.network == "classifier" else {}
    got = compute_metrics(real, fake, ScorePlan(metrics=[name], include_conditioning_frame=with_frame0, **SETTINGS, **extra))
    m = got.metrics[name]
    want = ref.compute(Case(real, fake, frames, net))
    # the engine asked for the network the metric declares, and used the injected one
    if ref.network == "video":
        assert asked["video"] == [spec.extractor or DEFAULT_EXTRACTOR] and m["provenance"]["extractor"] == net.name
    elif ref.network == "identity":
        assert len(asked["identity"]) == 1 and got.provenance["identity_embedder"] == net.name
    elif ref.network == "image":
        want_net = {"dino-subject": "dino-vitb16", "dino-i2v": "dino-vitb16", "clip-background": "clip-vit-b32",
                    "aesthetic": "laion-aesthetic-linear"}[spec.needs_model]
        assert asked["image"] == [want_net] and m["provenance"]["extractor"] == want_net
    else:
        assert asked == {"video": [], "identity": []}, f"{name} built a network its reference does not inject"
    if spec.kind == "set":
        want = want if isinstance(want, dict) else {"value": want}
        for key, value in want.items():
            np.testing.assert_allclose(np.asarray(m[key], np.float64), np.asarray(value, np.float64),
                                       rtol=ref.rtol, atol=ref.atol, err_msg=key)
        assert m["n"] == N and len(m["ci95"]) == 2 and m["ci95"][0] <= m["ci95"][1]
    else:
        assert set(m["per_video"]) == set(want)
        for k in want:
            assert m["per_video"][k] == pytest.approx(want[k], rel=ref.rtol, abs=ref.atol), k
        assert m["value"] == pytest.approx(np.mean(list(want.values())), rel=ref.rtol, abs=ref.atol)
        assert m["n"] == N and m["ci95"][0] <= m["value"] <= m["ci95"][1]
        assert np.ptp(list(want.values())) > 0, "test videos must give different per-video values"
    assert np.isfinite(m["value"])


def test_references_are_not_vacuous():
    """The inputs are far enough apart that each statistic is well away from its no-difference value."""
    real, fake = make_videos()
    case = Case(real, fake, np.arange(1, T), InjectedMoments())
    x, y = _features(case)
    assert frechet_reference(case) > 0.05 and mmd_cubic_unbiased_reference(case) > 0.05
    assert jedi_reference(case)["value"] > 1e-3
    assert 0.1 < np.mean(list(ssim_reference(case).values())) < 0.99
    same = Case(real, real, np.arange(1, T), InjectedMoments())
    assert abs(frechet_reference(same)) < 1e-9 * np.trace(np.cov(x, rowvar=False))
    ident = Case(real, fake, np.arange(T), InjectedColour())
    assert min(acd_c_reference(ident).values()) > 0 and min(acd_i_reference(ident).values()) > 0
    # the covariance normalisers really differ at this N (so 1/N vs 1/(N-1) would be caught)
    assert abs(frechet_population_reference(case) - frechet_reference(case)) > 1e-3 * frechet_reference(case)


@pytest.mark.parametrize("name", [n for n, s in METRICS.items() if s.kind == "set" and not s.extractor_fixed])
def test_set_metric_takes_an_extractor_object(name, injected):
    """``extractor=`` accepts a built object (the probe/plugin route): same value, its name recorded."""
    _, asked = injected
    real, fake = make_videos(1)
    obj = InjectedMoments()
    obj.name = "passed-in"
    got = compute_metrics(real, fake, ScorePlan(metrics=[name], extractor=obj, **SETTINGS))
    assert asked["video"] == [obj]  # the object itself went to the builder, no name
    assert got.metrics[name]["provenance"]["extractor"] == "passed-in"
    want = reference_for(name).compute(Case(real, fake, np.arange(1, T), obj))
    want = want if isinstance(want, dict) else {"value": want}
    assert got.metrics[name]["value"] == pytest.approx(want["value"], rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name", [n for n, s in METRICS.items() if s.kind == "set" and s.extractor_fixed])
def test_fixed_extractor_metric_ignores_extractor_argument(name, injected):
    """A metric defined on one network (``extractor_fixed``) asks for that network whatever ``--extractor`` says."""
    _, asked = injected
    real, fake = make_videos(1)
    compute_metrics(real, fake, ScorePlan(metrics=[name], extractor="synthetic-probe", **SETTINGS))
    assert asked["video"] == [METRICS[name].extractor]
