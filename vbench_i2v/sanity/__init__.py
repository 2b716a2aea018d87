"""`vbench sanity`: controlled corruptions of real videos and how every metric responds to them.

:mod:`.corruptions` makes the degraded videos (pure numpy plus PIL's JPEG codec); :mod:`.report`
scores them through the metric engine, flags content bias and writes the table and plots.
"""

from vbench_i2v.sanity.corruptions import CORRUPTIONS, Corruption
from vbench_i2v.sanity.report import SanityReport, find_flags, run_sanity, write_report

__all__ = ["CORRUPTIONS", "Corruption", "SanityReport", "find_flags", "run_sanity", "write_report"]
