"""Errors that carry one clear line for the user (the CLI prints them without a traceback)."""


class VBenchError(Exception):
    """Base class: the message is shown to the user as a single line."""


class VideoError(VBenchError):
    """A video file or frame folder that cannot be read or written as asked."""


class DatasetError(VBenchError):
    """A dataset layout that does not match, or a bad split/label request."""


class WeightsError(VBenchError):
    """Missing or corrupt weight files."""


class InputError(VBenchError):
    """Bad user input to a model or a command (size, label, frame count, NaN...)."""
