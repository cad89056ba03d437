"""Dev-set builders: labelled folders generated from package data (never committed; written under bench/data/)."""
from pathlib import Path

DATA_ROOT = Path(__file__).resolve().parents[1] / "data"
