"""How many everyday picture words the text search understands: the shipped lexicon against another
release's, same run.

    PYTHONPATH=src .venv/bin/python bench/text_vocabulary.py [--baseline 79e3b4f]

Word lists not drawn from any dev set of bench/text_search.py and not used to build the tables:
* ``coco``: the 80 object category names of COCO 2017 (person, bicycle, traffic light, hair drier...);
* ``places``: 120 scene category names in the style of Places365 (airfield, bamboo forest, canyon,
  lighthouse, wheat field...), its own naming ("forest path", "ski slope");
* ``issue``: the words of issue 14's report (flower, leaf, night sky with stars, a red car, people on a
  beach, brick wall, tower, canyon...).

Per list: names fully understood (every content word has a meaning: classes, a scene, a colour), partly
(some words ignored, which the search says in a note), ignored (none), for the baseline table (``git show
<rev>:src/pixseek/text/data/lexicon.npz``) and the table shipped now, plus the names still not (fully)
understood; then which entries differ between the two tables (source, classes, weights, colour), the
number and the words with each side's best classes. This counts coverage and change, not correctness:
whether a meaning is the right one is what bench/text_search.py measures on pictures.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pixseek.text.lexicon import lexicon, load_lexicon  # noqa: E402

COCO = """person, bicycle, car, motorcycle, airplane, bus, train, truck, boat, traffic light, fire hydrant,
stop sign, parking meter, bench, bird, cat, dog, horse, sheep, cow, elephant, bear, zebra, giraffe, backpack,
umbrella, handbag, tie, suitcase, frisbee, skis, snowboard, sports ball, kite, baseball bat, baseball glove,
skateboard, surfboard, tennis racket, bottle, wine glass, cup, fork, knife, spoon, bowl, banana, apple,
sandwich, orange, broccoli, carrot, hot dog, pizza, donut, cake, chair, couch, potted plant, bed, dining table,
toilet, tv, laptop, mouse, remote, keyboard, cell phone, microwave, oven, toaster, sink, refrigerator, book,
clock, vase, scissors, teddy bear, hair drier, toothbrush"""
PLACES = """airfield, airport terminal, alley, amphitheater, amusement park, aquarium, aqueduct, arch, art gallery,
badlands, bakery, ballroom, bamboo forest, barn, baseball field, bathroom, beach, bedroom, boardwalk, boathouse,
bookstore, botanical garden, bridge, butte, campsite, canal, canyon, castle, cemetery, church, classroom,
closet, coast, cockpit, coffee shop, conference room, construction site, corn field, corridor, cottage,
courtyard, crosswalk, dam, desert, dining room, dock, downtown, driveway, farm, field, fire station, forest,
forest path, fountain, garage, gas station, glacier, golf course, greenhouse, harbor, highway, hospital, hotel,
house, ice skating rink, iceberg, igloo, industrial area, islet, kitchen, lagoon, lake, lawn, library,
lighthouse, living room, lobby, marsh, mausoleum, mountain, mountain path, museum, ocean, office, orchard,
pagoda, palace, park, parking lot, pasture, patio, pavilion, pier, playground, pond, racecourse, rainforest,
restaurant, river, rock arch, ruin, runway, sandbox, ski slope, sky, skyscraper, snowfield, stadium,
staircase, street, supermarket, swamp, swimming pool, temple, tower, train station, tree farm, valley,
vineyard, volcano, waterfall, wheat field, wind farm, yard"""
ISSUE = """flower, leaf, night sky with stars, dog, a red car, people on a beach, bird, tool, building, tower,
forest, desert, canyon, brick wall, fruit, animal, instrument, vehicle"""
LISTS = {"coco": COCO, "places": PLACES, "issue": ISSUE}


def names(text: str) -> list[str]:
    return [n.strip() for n in text.replace("\n", " ").split(",") if n.strip()]


def understood(lx, name: str) -> str:
    p = lx.parse(name)
    if p.terms and not p.unknown:
        return "full"
    return "part" if p.terms else "none"


def entry(lx, word: str) -> tuple | None:
    s = lx.sense(word)
    return None if s is None else (s.source, tuple(s.classes), tuple(round(float(w), 3) for w in s.weights),
                                   s.colour)


def shown(lx, word: str, labels: list[str]) -> str:
    s = lx.sense(word)
    if s is None:
        return "-"
    top = sorted(zip(s.weights, s.classes), key=lambda wc: (-wc[0], wc[1]))[:3]
    return ", ".join(f"{labels[c]} {w:.2f}" for w, c in top) + (f" +{s.colour}" if s.colour else "")


LOAD_RUNS = 21


def load_ms(raw: bytes) -> float:
    """Median ms to load a table from its bytes and read one word (what a process's first query pays)."""
    times = []
    for _ in range(LOAD_RUNS):
        t = time.perf_counter()
        load_lexicon(raw).sense("flower")
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


COLD = """
import sys, time
raw = open(sys.argv[1], "rb").read()
from pixseek.text.lexicon import load_lexicon
t = time.perf_counter(); load_lexicon(raw).sense("flower"); print((time.perf_counter() - t) * 1000)
"""


def cold_ms(raw: bytes, runs: int = 7) -> list[float]:
    """ms of the same load as the first call of a fresh process (imports done before the clock starts)."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".npz") as f:
        f.write(raw)
        f.flush()
        return [float(subprocess.run([sys.executable, "-c", COLD, f.name], capture_output=True, text=True, check=True,
                                     env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}).stdout)
                for _ in range(runs)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="79e3b4f", help="git revision whose shipped table is the baseline")
    args = ap.parse_args()
    raw = subprocess.run(["git", "show", f"{args.baseline}:src/pixseek/text/data/lexicon.npz"], cwd=ROOT,
                         capture_output=True, check=True).stdout
    tables = {f"baseline {args.baseline}": load_lexicon(raw), "now": lexicon()}
    print(f"{'list':<8} {'names':>5}  " + "  ".join(f"{t + ': full / part / none':>34}" for t in tables))
    for key, text in LISTS.items():
        ns = names(text)
        cells = []
        for lx in tables.values():
            v = [understood(lx, n) for n in ns]
            cells.append(f"{v.count('full'):>14} / {v.count('part'):>4} / {v.count('none'):>4}"
                         f" ({v.count('full') / len(ns):.0%})")
        print(f"{key:<8} {len(ns):>5}  " + "  ".join(f"{c:>34}" for c in cells))
    now_raw = resources.files("pixseek.text").joinpath("data/lexicon.npz").read_bytes()
    print(f"\ntable size and load time (median of {LOAD_RUNS}, load_lexicon from bytes, first word looked up):")
    print(f"  {'':<20} {'size':>8}  {'warm':>8}  {'first in a fresh process':>26}")
    for label, data in ((f"baseline {args.baseline}", raw), ("now", now_raw)):
        cold = cold_ms(data)
        print(f"  {label:<20} {len(data) / 1e6:5.2f} MB  {load_ms(data):5.2f} ms  "
              f"{statistics.median(cold):6.2f} ms (median of {len(cold)}: {min(cold):.2f}-{max(cold):.2f})")
    now = tables["now"]
    base = tables[f"baseline {args.baseline}"]
    from pixseek.encoders.efficientnet import imagenet_labels

    labels = imagenet_labels()
    changed = [w for w in sorted(set(base.words) | set(now.words)) if entry(base, w) != entry(now, w)]
    print(f"\nentries that differ from baseline {args.baseline}: {len(changed)} (baseline -> now, best 3 classes)")
    for w in changed:
        print(f"  {w}: {shown(base, w, labels)} -> {shown(now, w, labels)}")
    for key, text in LISTS.items():
        left = [(n, now.parse(n).unknown) for n in names(text) if understood(now, n) != "full"]
        print(f"\n{key}: not fully understood now ({len(left)}): "
              + ", ".join(f"{n} [{' '.join(u)}]" if u != [n] else n for n, u in left))


if __name__ == "__main__":
    main()
