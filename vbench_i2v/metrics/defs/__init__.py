"""The built-in metrics, one module each (listed in ``vbench_i2v.metrics.registry.METRIC_MODULES``)."""
