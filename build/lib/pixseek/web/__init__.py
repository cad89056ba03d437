"""The web page: plain HTML, CSS and JavaScript in ``static/``, served by :mod:`pixseek.api` (no build step)."""
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
