"""CLI choices and help derived from the registries (metrics, extractors), never written by hand."""

from __future__ import annotations

import click


def metric_help(prefix: str) -> str:
    from vbench_i2v.metrics.registry import all_metrics

    names = ", ".join(all_metrics())
    return f"{prefix}; from: {names} (`vbench metrics --list` describes them)."


class MetricList(click.ParamType):
    """``fid,SSIM`` -> ``["fid", "ssim"]``: registered names, case-insensitive, refused in one line."""

    name = "metrics"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        from vbench_i2v.errors import InputError
        from vbench_i2v.metrics.registry import parse_metrics

        try:
            return parse_metrics(value)
        except InputError as exc:
            self.fail(str(exc), param, ctx)


def metric_list_type() -> MetricList:
    return MetricList()


def extractor_help(prefix: str) -> str:
    from vbench_i2v.catalog import EXTRACTORS

    return f"{prefix}: {', '.join(EXTRACTORS)}, or a probe folder from `vbench probes train`."


def metrics_table() -> str:
    """What `vbench metrics --list` prints: every registered metric and what it declares."""
    from tabulate import tabulate

    from vbench_i2v.metrics.registry import all_metrics

    rows = [[s.name, s.kind, "higher" if s.higher_is_better else "lower", s.decimals,
             s.extractor or s.needs_model or "-", "yes" if s.default else ("faces" if s.default_on_faces else "no"),
             s.description] for s in all_metrics().values()]
    return tabulate(rows, headers=["metric", "kind", "better", "decimals", "network", "default", "what"])
