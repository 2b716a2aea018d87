"""Rater studies: blinded pairwise export, the rater page, and scoring."""
