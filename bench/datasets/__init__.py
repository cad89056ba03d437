"""Dev-set builders: labelled folders generated from package data (never committed; written under bench/data/)."""
import json
from pathlib import Path

DATA_ROOT = Path(__file__).resolve().parents[1] / "data"


def write_labels(path: Path, table: dict[str, list[str]]) -> None:
    """Write a words dev set's label table (``{picture: [words]}``) and print how often each word occurs."""
    path.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n")
    counts: dict[str, int] = {}
    for ws in table.values():
        for w in ws:
            counts[w] = counts.get(w, 0) + 1
    print(len(table), "pictures;", dict(sorted(counts.items(), key=lambda kv: -kv[1])))
