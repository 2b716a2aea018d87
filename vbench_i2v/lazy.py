"""Modules imported on first use, so command modules stay cheap to import (``vbench X --help``)."""

from __future__ import annotations

import importlib


class LazyModule:
    """Stands for a module and imports it the first time one of its attributes is read."""

    def __init__(self, name: str):
        self._name = name
        self._module = None

    def __getattr__(self, attr):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)
