"""What a scoring call is asked to do (:class:`ScorePlan`) and what it gives back (:class:`Scores`).

``compute_metrics(real, fake, plan, store=None) -> Scores`` (:mod:`vbench_i2v.metrics.engine`)
takes the metrics and every setting in one :class:`ScorePlan`, as training takes one
``TrainOptions``. Each metric comes back as one JSON-ready object,

``{"value", "ci95": [lo, hi], "n", "measurement", ...what the metric adds..., "provenance": {...}}``

where ``provenance`` says how the number was measured: ``extractor`` (the network's catalog name,
``probe:<sha12>`` for a probe folder, null for pixel metrics), its ``contract``, ``weights_sha256``
and ``extra_weights_sha256``, ``precision`` (fp32, tf32 or bf16: :func:`vbench_i2v.devices.precision_name`),
``device`` (the device type the network ran on, cpu or cuda; null for pixel metrics),
``paired_frames`` (for metrics that score the predicted frames), ``bootstrap`` and ``settings``
(the plan fields that change the value, ``MetricSpec.value_settings``), then every ``conversion``
its inputs went through (the reader's, e.g. 16-bit frames scaled to 8 bits, with the number of
clips, and the network contract's resizes) and the ``warnings`` it raised. ``measurement`` is the
short id of how the number was measured (:func:`vbench_i2v.results.measurement_id`: everything
above but the conversions and warnings, which are recorded, not identifying; the device only when it
is not the CPU, so every CPU measurement keeps the id it had before the device was recorded): two
numbers with the same id were measured the same way, so they are comparable when they describe the
same clips.

:meth:`Scores.to_json` is exactly what ``vbench metrics --json`` writes, and its ``metrics`` block
is what ``vbench run`` records in results.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from vbench_i2v.metrics import bootstrap


@dataclass(frozen=True)
class ScorePlan:
    """The metrics to compute and everything that shapes them (the engine reads nothing else).

    ``metrics``: registered names or a comma list (default: the registry's defaults).
    ``extractor``: the network for set metrics that do not fix their own (a catalog name, a probe
    folder or an extractor object; default: each metric's own). ``identity``: the identity embedder
    of the metrics that need one (name or object; default: the extractor when the catalog also
    lists it as an identity embedder, else the catalog's default). ``conditioning``: a folder of
    images keyed like the fake videos (default: the first frame of each real partner).
    ``partners``: where paired metrics find each fake video's real partner (default: ``real``
    itself; `vbench sanity` compares set metrics with one half and paired metrics with another).
    ``labels``: ``{name: label}`` the videos were conditioned on. ``bf16``: feature networks in
    their bf16 mode (opt-in; part of every measurement id and feature-store key). ``tf32``: the
    networks may use TF32 on a CUDA device (opt-in, refused elsewhere; recorded as precision
    ``tf32``); without it a CUDA call runs IEEE fp32 whatever the process's TF32 flags are.
    """

    metrics: tuple[str, ...] | str | None = None
    extractor: object = None
    identity: object = None
    conditioning: object = None
    partners: object = None
    labels: dict | None = None
    seed: int = 0
    device: str = "cpu"
    batch_size: int | None = None
    bootstrap_reps: int = bootstrap.DEFAULT_REPS
    set_bootstrap_reps: int = 100
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    include_conditioning_frame: bool = False
    progress: bool = False
    bf16: bool = False
    tf32: bool = False

    def names(self) -> list[str]:
        """The metric names, parsed and checked (unknown names are one-line errors)."""
        from vbench_i2v.metrics.registry import default_metrics, parse_metrics

        return parse_metrics(self.metrics if self.metrics is not None else default_metrics())

    def specs(self) -> list:
        from vbench_i2v.metrics.registry import get_metric

        return [get_metric(m) for m in self.names()]

    def with_(self, **changes) -> "ScorePlan":
        return replace(self, **changes)

    @property
    def paired_frames(self) -> str:
        return "all" if self.include_conditioning_frame else "predicted"

    def bootstrap_settings(self) -> dict:
        """The resampling behind every interval (part of each measurement id)."""
        return {"per_video_reps": int(self.bootstrap_reps), "set_level_reps": int(self.set_bootstrap_reps),
                "method": "percentile, videos resampled with replacement"}


def contract_fields(contract) -> dict | None:
    """The input contract as it identifies a measurement: every field but the free-text note."""
    import dataclasses

    if hasattr(contract, "as_dict"):
        d = contract.as_dict()
    elif isinstance(contract, dict):
        d = dict(contract)
    elif dataclasses.is_dataclass(contract):
        d = dataclasses.asdict(contract)
    else:
        return None
    return {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(d.items()) if k != "note"}


def network_identity(net, bf16: bool = False, device="cpu") -> dict:
    """What identifies a network's outputs: its name (catalog name, or ``probe:<sha>`` for a probe
    folder), its weights' sha256 (and any further weight files), its input contract, the precision
    it computes in on ``device`` now (:func:`vbench_i2v.devices.precision_name`: fp32, tf32 or bf16)
    and the device type. ``net`` is a built network object (``name``, ``weights_sha256``, ``spec`` or
    ``contract``) or a dict with those keys (a features file's record, whose ``precision`` and
    ``device`` then say how its features were made).

    The device type enters as ``"device": "cuda"`` only when it is not the CPU: an identity without
    the key is a CPU one, so the identities (feature-store keys) made before the device was recorded
    stay those of the CPU, and a CUDA identity never equals a CPU one."""
    from vbench_i2v.devices import precision_name

    is_record = isinstance(net, dict)
    get = net.get if is_record else (lambda k, d=None: getattr(net, k, d))
    spec = get("spec")  # a catalog entry's contract first; an object's own only without one
    contract = getattr(spec, "contract", None) if spec is not None else None
    contract = contract if contract is not None else get("contract")
    kind = (get("device") if is_record else None) or device_type(device)
    out = {"name": get("name") or type(net).__name__, "weights_sha256": get("weights_sha256") or None,
           "extra_weights_sha256": dict(sorted((get("extra_weights_sha256") or {}).items())),
           "contract": contract_fields(contract),
           "precision": (get("precision") if is_record else None) or precision_name(kind, bf16)}
    if kind != "cpu":
        out["device"] = kind
    return out


def device_type(device) -> str:
    """``cpu`` or ``cuda`` (the type of a device given as text or a torch device)."""
    import torch

    return torch.device(device).type


@dataclass
class Scores:
    """What one scoring call found: ``metrics`` (name -> JSON-ready result object, in the order
    asked for) and the call's ``provenance`` (networks, weights, seed, pairing, warnings ...)."""

    metrics: dict[str, dict]
    provenance: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> dict:
        return self.metrics[name]

    def value(self, name: str) -> float:
        return self.metrics[name]["value"]

    def to_json(self) -> dict:
        """``{"metrics": {...}, "provenance": {...}}``: what ``vbench metrics --json`` writes."""
        return {"metrics": self.metrics, "provenance": self.provenance}
