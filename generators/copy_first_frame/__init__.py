"""The copy_first_frame generator backend."""
