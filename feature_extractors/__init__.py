"""Networks used only for scoring (3D ResNeXt-101, face identity, the synthetic probe)."""
