"""The vgan generator backend."""
