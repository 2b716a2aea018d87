"""The mocogan generator backend."""
