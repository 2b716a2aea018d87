"""The imaginator generator backend."""
