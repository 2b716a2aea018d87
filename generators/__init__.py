"""Generator backends, their shared interface, registry and training utilities."""
