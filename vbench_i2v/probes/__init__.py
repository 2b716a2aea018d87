"""Probes: small video networks trained on a dataset's own training split (``vbench probes
train``), used as feature extractors (FID/KID-style numbers labelled ``probe:<sha>``) and as
classifiers for label accuracy. See docs/probes.md."""

from vbench_i2v.probes.folder import (INPUT_CONTRACT, ProbeExtractor, is_probe_folder, load_probe_folder,
                                      verify_probe_folder, write_probe_folder)
from vbench_i2v.probes.train import TrainedProbe, dataset_fingerprint, load_training_clips, train_probe

__all__ = ["INPUT_CONTRACT", "ProbeExtractor", "TrainedProbe", "dataset_fingerprint", "is_probe_folder",
           "load_probe_folder", "load_training_clips", "train_probe", "verify_probe_folder", "write_probe_folder"]
