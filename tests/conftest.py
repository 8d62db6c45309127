"""Shared pytest set-up: no figure windows, and the repository root on sys.path (see pyproject.toml)."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
