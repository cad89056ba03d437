"""Second category-word dev set for text search (issue 14): real photographs from two Debian packages not
used elsewhere in bench/: ``gcompris-qt-data`` (GCompris' activities keep their pictures inside Qt
resource files, ``.rcc``, read here by :func:`read_rcc`) and ``palapeli-data`` (the jigsaw photos).

What is taken: the animal photos of the ``erase``, ``explore_farm_animals`` and ``explore_world_animals``
activities; the fish, tool, monument, renewable-energy (windmill, dam, solar) and household photos of
``categorization``; the monument photos of ``explore_monuments``; the photographs among the ``details``
backgrounds (the Van Gogh paintings are left out); the musicians of ``explore_world_music``; the planets
of ``solar_system``; the five Palapeli photos. Drawings (the ``lang`` word pictures) are left out.

Labels: category words come from the package's own folders and file names (``categorization/.../tools``
-> tool, ``hammer3.webp`` -> hammer; ``erase/kingfisher.webp`` -> animal, bird) through the tables
below; scene words (sky, grass, water, snow, mountain, desert, forest, night, underwater) and the
structure words (building, tower, castle, church, pyramid, statue) were added by viewing every picture
on contact sheets (2026-12-03). ``real_words.json`` (committed) is what :func:`make_labels` wrote.

``build(split)`` writes two copies under bench/data/real-words/: ``original-<split>/`` (the package's
folders and file names, for the file-name baselines) and ``renamed-<split>/`` (neutral names
``img0001.jpg``, flat, so no name can leak the label). Splits ``a`` / ``b``: two halves by a hash of the
key; ``all``: both.
"""
from __future__ import annotations

import io
import json
import struct
import subprocess
import zlib
from pathlib import Path

from PIL import Image

from bench.datasets import DATA_ROOT, renamed, save_pair, split_of, words_split, write_labels  # noqa: F401 (split_of: re-exported)

LABELS = Path(__file__).with_name("real_words.json")
GCOMPRIS, PALAPELI = "gcompris-qt-data", "palapeli-data"
RCC_DIR = "usr/share/gcompris-qt/rcc"
PALAPELI_DIR = "usr/share/palapeli/collection"
MAX_SIDE = 1024

# (rcc file, folder inside it) -> category words of every picture there
FOLDERS = {
    ("erase", "erase/resource"): ["animal"],
    ("explore_farm_animals", "explore_farm_animals/resource/animals"): ["animal"],
    ("explore_world_animals", "explore_world_animals/resource/animals"): ["animal"],
    ("categorization", "categorization/resource/images/fishes"): ["fish", "animal"],
    ("categorization", "categorization/resource/images/tools"): ["tool"],
    ("categorization", "categorization/resource/images/monuments"): ["monument"],
    ("categorization", "categorization/resource/images/renewable"): [],
    ("categorization", "categorization/resource/images/others"): [],
    ("explore_monuments", "explore_monuments/resource"): ["monument"],
    ("details", "details/resource/image"): [],
    ("explore_world_music", "explore_world_music/resource/music"): [],
    ("solar_system", "solar_system/resource"): [],
}
# file stem (lower case, digits dropped) -> category words, from the name
STEM_WORDS = {
    **{s: ["bird"] for s in ("gosling", "heron", "kingfisher", "northern_harrier", "penguin", "spoonbills", "swans",
                             "toucan", "chicken", "duck", "owl", "scarlet_macaw")},
    **{s: ["mammal"] for s in ("alpaca", "calf", "camels", "cheetah", "dolphin", "flying_fox", "gibbon", "giraffe",
                               "goat", "gorilla", "horse", "kitten", "long_nosed_monkey", "macaque", "meerkats",
                               "nubian_ibex", "pika", "red_panda", "rhinoceros", "squirrel", "cat", "cow", "dog",
                               "pig", "sheep", "bison", "hedgehog", "jaguar", "kangaroo", "koala", "lemur", "moose",
                               "narwhal", "panda", "polar_bear")},
    **{s: ["reptile"] for s in ("chamaeleon", "chameleon", "crocodile", "dragon")},
    **{s: ["insect"] for s in ("bee", "butterfly")},
    "crab": [], "caterpillar": [],
    "hammer": ["hammer"], "screwdriver": ["screwdriver"], "scissors": ["scissors"], "plier": ["pliers"],
    "measuringtape": ["measuring tape"],
    "windmill": ["windmill"], "fanoewindmill_background": ["windmill", "building"], "dam": ["dam"],
    "solar": ["solar panel"],
    **{s: ["instrument"] for s in ("africa", "america", "australia", "ireland", "mexico", "middleeast",
                                   "orchestra")},
    **{s: ["planet"] for s in ("earth", "jupiter", "mars", "mercury", "neptune", "saturn", "uranus", "venus")},
    "baseball": ["ball"], "volleyball": ["ball"], "cup": ["cup", "dish"], "plate": ["dish"], "buffetset": ["dish", "cup"],
    "spoons": ["spoon"], "knife": ["knife"], "pan": ["pan"], "chair": ["chair", "furniture"],
    "pillow": ["pillow"], "pencil": ["pencil"], "igloo": ["snow", "building"],
}
SKIP = ("eglise_dauvers", "gogh", "portraitofpere", "van_gogh", "vincentvangogh", "sun", "italy", "japan",
        "blackslate", "erasers", "bucket", "bulb", "weighingmachine")  # paintings; no one word fits
# by eye, 2026-12-03: file stem (lower case) -> structure and scene words
SEEN = {
    # animals: their setting
    "alpaca": ["grass"], "cow": ["grass"], "chicken": ["grass"], "sheep": ["grass"], "pig": ["grass"],
    "bison": ["grass"], "dog": ["grass"], "penguin": ["grass"], "calf": [], "horse": ["grass", "sky"],
    "dolphin": ["water", "underwater"], "narwhal": ["water"], "swans": ["water", "night"], "spoonbills": ["water"],
    "duck": ["water"], "crocodile": ["water"], "polar_bear": ["snow"], "goat": ["mountain"], "camels": ["desert"],
    "giraffe": ["tree"], "koala": ["tree"], "gibbon": ["tree", "forest"], "lemur": ["forest"],
    "long_nosed_monkey": ["forest"], "kangaroo": [], "meerkats": ["desert"], "nubian_ibex": ["desert", "sky"],
    # fish: all under water
    **{f"fish{i}": ["water", "underwater"] for i in range(1, 29)},
    # monuments and the details photos
    "indiagate": ["sky", "monument"], "arcdetriomphe": ["sky", "monument"], "bayterek": ["tower", "sky"],
    "brandenburggate": ["monument", "night"], "burj": ["tower", "building", "skyscraper"],
    "cathedral": ["church", "building", "sky"], "christtheredeemer": ["statue", "sky", "mountain"],
    "colosseum": ["building", "sky"], "eiffeltower": ["tower", "sky"],
    "empirestate": ["tower", "building", "skyscraper", "sky"], "greatpyramid": ["pyramid", "sky", "desert"],
    "greatwall": ["wall", "mountain", "forest"], "juchetower": ["tower", "sky"], "kutubminar": ["tower", "sky"],
    "lemusee": ["building", "pyramid", "sky"], "leaningtowerofpisa": ["tower", "building", "sky"],
    "monument1": ["building", "mosque", "sky"], "monument2": ["sky", "grass"], "monument3": ["church", "building", "sky"],
    "mountrushmore": ["statue", "mountain", "sky"], "operahouse": ["building", "water", "sky"],
    "parthenon": ["temple", "building", "sky"], "statueofliberty": ["statue", "sky"], "tajmahal": ["building", "sky"],
    "uscapitol": ["building", "sky"], "victoriamemorial": ["statue", "sky"], "zimnipalace": ["building", "palace", "night"],
    "chenonceau_background": ["castle", "building", "water"], "egeskovslotspejling_background": ["castle", "building", "water"],
    "eilandonancastle_background": ["castle", "building", "water", "mountain"],
    "fanoewindmill_background": ["sky"], "gizahpyramids_background": ["pyramid", "desert", "sky"],
    "louvre_2007_02_24_c_background": ["building", "night"], "ndp_background": ["church", "building", "night"],
    "nagoya_background": ["castle", "building", "sky"], "neuschwanstein_background": ["castle", "building", "forest"],
    "operasidney_background": ["building", "water", "night"], "tajmahal_background": ["building", "sky"],
    "toureiffel_background": ["tower", "sky"], "towerbridgelondon_background": ["bridge", "tower", "water", "night"],
    "bentpyramid": ["pyramid", "desert"], "greatpyramidofgiza": ["pyramid", "desert", "sky"],
    "meidumpyramid": ["pyramid", "desert"], "redpyramid": ["pyramid", "desert", "sky"],
    "arlesamphitheater": ["building", "sky"], "chateaudechambord": ["castle", "building", "sky", "grass"],
    "chateaudechenonceau": ["castle", "building", "water"], "citedecarcassonne": ["castle", "building", "grass"],
    "montstmichel": ["castle", "church", "sky"], "palaisdespapes": ["palace", "building", "sky"],
    "pontdugard": ["bridge", "forest"], "reimscathedral": ["church", "building", "sky"],
    "rocamadour": ["building", "forest"], "aulapalatina": ["building", "sky"], "berlincathedral": ["church", "building", "sky"],
    "neuschwansteincastle": ["castle", "building", "forest"], "schwerinpalace": ["castle", "palace", "building", "water"],
    "trierimperialbaths": ["grass"], "wormscathedral": ["church", "building", "sky"], "ajantacave": ["forest"],
    "charminar": ["tower", "building", "sky"], "gatewayofindia": ["monument", "night"], "goldentemple": ["temple", "building", "water"],
    "greatstupa": ["temple", "sky"], "hawamahal": ["palace", "building"], "konarksuntemple": ["temple"],
    "mysorepalace": ["palace", "building"], "qutubminar": ["tower", "sky"], "ranghar": ["building", "sky"],
    "cabrillo": ["statue"], "canyondechelly": ["canyon", "desert", "river"],
    "castillodesanmarcos": ["castle", "fort"], "castleclinton": ["fort"], "fortsumter": ["fort", "grass"],
    "georgewashingtonbirthplace": ["building", "house", "tree"], "lincolnmemorial": ["building", "temple", "night"],
    "navajo": ["rock", "canyon"], "chichenitza": ["pyramid", "sky", "grass"],
    "greatwallofchina": ["wall", "mountain", "forest"], "machupicchu": ["mountain", "forest"],
    "petra": ["building", "rock"],
    # the rest
    "castle-maintenon": ["castle", "building", "sky"], "cincinnati-bridge": ["bridge", "night", "water"],
    "citrus-fruits": ["fruit", "food"], "european-honey-bee": ["animal", "insect", "flower"],
    "panther-chameleon-female": ["animal", "reptile"],
    **{f"windmill{i}": ["sky"] for i in ("", *range(1, 16))},
    **{f"dam{i}": ["water"] for i in range(1, 6)},
}
SCENE_WORDS = ("sky", "grass", "water", "underwater", "snow", "mountain", "desert", "forest", "night", "tree",
               "canyon", "river", "rock")


def read_rcc(data: bytes) -> dict[str, bytes]:
    """A Qt resource file (``.rcc``, format versions 1-3) -> {path: bytes}: the header's offsets of the
    tree, the data and the names; tree nodes of 14 bytes (22 from version 2: + modification time); names
    are UTF-16BE; zlib-compressed entries (flag 1) start with their size."""
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource file (no 'qres' magic)")
    version, tree, blobs, names = struct.unpack(">IIII", data[4:20])
    node = 22 if version >= 2 else 14
    out: dict[str, bytes] = {}

    def name(off: int) -> str:
        (n,) = struct.unpack(">H", data[names + off:names + off + 2])
        return data[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")

    stack = [(0, "")]
    while stack:
        i, prefix = stack.pop()
        o = tree + i * node
        name_off, flags = struct.unpack(">IH", data[o:o + 6])
        full = f"{prefix}{name(name_off)}" if i else ""
        if flags & 2:  # a directory: its children are consecutive nodes
            count, first = struct.unpack(">II", data[o + 6:o + 14])
            stack += [(c, f"{full}/" if i else "") for c in range(first, first + count)]
            continue
        (off,) = struct.unpack(">I", data[o + 10:o + 14])
        (size,) = struct.unpack(">I", data[blobs + off:blobs + off + 4])
        blob = data[blobs + off + 4:blobs + off + 4 + size]
        if flags & 1:
            blob = zlib.decompress(blob[4:])
        elif flags & 4:
            raise ValueError(f"{full}: zstd-compressed resource (not supported)")
        out[full] = blob
    return out


def extract(package: str) -> Path:
    root = DATA_ROOT / "cache" / package
    if not root.exists():
        deb_dir = DATA_ROOT / "cache"
        deb_dir.mkdir(parents=True, exist_ok=True)
        if not sorted(deb_dir.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", package], cwd=deb_dir, check=True, capture_output=True)
        deb = sorted(deb_dir.glob(f"{package}_*.deb"))[-1]
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def _stem(rel: str) -> str:
    return rel.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()


def sources() -> dict[str, bytes]:
    """{key: image bytes} of every picture the set takes (before labels), keys ``gcompris/<path>`` and
    ``palapeli/<file>``."""
    gc = extract(GCOMPRIS) / RCC_DIR
    out: dict[str, bytes] = {}
    cache: dict[str, dict[str, bytes]] = {}
    for (rcc, folder), _ in FOLDERS.items():
        if rcc not in cache:
            cache[rcc] = read_rcc((gc / f"{rcc}.rcc").read_bytes())
        for path, blob in cache[rcc].items():
            rel = path.replace("gcompris/src/activities/", "")
            if rel.rsplit("/", 1)[0].startswith(folder) and rel.lower().endswith((".webp", ".jpg", ".png")):
                if rcc == "details" and not _stem(rel).endswith("_background"):
                    continue  # the puzzle pieces of each background
                if rcc == "explore_monuments" and rel.count("/") < 3:
                    continue  # map pictures at the top of the folder
                if _stem(rel).startswith(SKIP):
                    continue
                out[f"gcompris/{rel}"] = blob
    for p in sorted((extract(PALAPELI) / PALAPELI_DIR).glob("*.jpg")):
        out[f"palapeli/{p.name}"] = p.read_bytes()
    return out


def words_for(key: str) -> list[str]:
    rel = key.split("/", 1)[1]
    words: list[str] = []
    for (_, folder), ws in FOLDERS.items():
        if key.startswith("gcompris/") and rel.startswith(folder + "/"):
            words += ws
    stem = _stem(rel)
    base = stem.rstrip("0123456789").replace("screwdriver", "screwdriver")
    for w in STEM_WORDS.get(base, STEM_WORDS.get(stem, [])) + SEEN.get(stem, []):
        if w not in words:
            words.append(w)
    return words


def make_labels() -> dict[str, list[str]]:
    return {k: words_for(k) for k in sorted(sources())}


def build(split: str = "all") -> tuple[Path, Path, dict[str, list[str]], dict[str, str]]:
    """(original folder, renamed folder, {key: words}, {renamed name: key}); pictures as JPEG, longest
    side at most MAX_SIDE, transparency flattened onto white."""
    labels = words_split(json.loads(LABELS.read_text()), split)
    orig = DATA_ROOT / "real-words" / f"original-{split}"
    ren = DATA_ROOT / "real-words" / f"renamed-{split}"
    names = renamed(labels, ".jpg")
    todo = {n: k for n, k in names.items() if not ((orig / original_name(k)).exists() and (ren / n).exists())}
    blobs = sources() if todo else {}
    for name, key in todo.items():
        with Image.open(io.BytesIO(blobs[key])) as im:
            save_pair(im, orig / original_name(key), ren / name, MAX_SIDE, quality=92)
    return orig, ren, labels, names


def original_name(key: str) -> str:
    """The key's path with its extension made .jpg (what the original-names copy holds)."""
    return key.rsplit(".", 1)[0] + ".jpg"


if __name__ == "__main__":
    write_labels(LABELS, make_labels())
