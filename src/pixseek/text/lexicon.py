"""Query words -> what they mean to the search: ImageNet classes (WordNet hierarchy or related labels),
colour terms, or nothing (stop words, unknown words), from the shipped table ``data/lexicon.npz``
(built by tools/build_text_tables.py; no nltk or WordNet needed here).

A query is read left to right, longest phrase first (up to the table's longest key: "golden retriever",
"sports car", "bicycle built for two"; hyphens split words as in the table: "hot-air balloon");
plurals are reduced with WordNet's rules and irregular-plural list (dogs -> dog, mice -> mouse).
"""
from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources

import numpy as np

from pixseek.io.colours import COLOURS, REGIONS  # the 11 basic colour terms, in profile order; layout regions

TABLE_VERSION = 3  # 3: a scene colour's region and whether it counts alone
COLOUR_ALIASES = {"grey": "gray", "violet": "purple", "crimson": "red", "scarlet": "red", "golden": "yellow",
                  "gold": "yellow", "navy": "blue", "turquoise": "blue", "cyan": "blue", "magenta": "pink",
                  "silver": "gray", "beige": "brown"}
STOP_WORDS = frozenset("""a an the and or of on in at to with without by for from into onto over under near
    some any this that these those is are be being been it its my our your their his her very much many few
    photo photos picture pictures image images pic pics shot view""".split())
MORPHY_RULES = (("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
                ("ies", "y"), ("s", ""))
MAX_PHRASE = 3  # at least: the table's longest key in words sets it (Lexicon.max_phrase)
TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def fold(text: str) -> str:
    """Accents dropped ("café" -> "cafe", "jalapeño" -> "jalapeno"): how query words and file names are
    compared with the table's (English, ASCII) words."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _plain(text: str) -> str:
    return fold(text).lower().replace("-", " ").replace("_", " ")


def tokens(text: str) -> list[str]:
    """The words of a query or a table key as the lexicon reads them: lower case, accents dropped, hyphens
    and underscores split words ("hot-air balloon" -> hot, air, balloon; "lady's slipper" keeps "lady's")."""
    return TOKEN.findall(_plain(text))


def unread(text: str) -> list[str]:
    """The pieces of ``text`` that :func:`tokens` drops and a person would call words: other scripts
    ("кошка"), emoji; punctuation and spaces are not."""
    rest = TOKEN.sub(" ", _plain(text))
    return [w for w in rest.split() if any(c.isalnum() or ord(c) > 0x2000 for c in w)]


@dataclass(frozen=True)
class Sense:
    """What one query word (or phrase) means: ImageNet class weights and/or a colour."""
    word: str                          # the lemma as found in the table
    source: str                        # "wordnet" (hypernym/equal), "related" (sentence similarity), "colour"
    classes: tuple[int, ...] = ()      # ImageNet-1k class indices
    weights: tuple[float, ...] = ()    # in [0, 1], one per class
    colour: str | None = None
    colour_weight: float = 1.0         # a scene word's colour counts for this much (sky: blue, 0.7)
    senses: tuple[str, ...] = ()       # WordNet synsets behind a "wordnet" entry, main sense first
    scene: bool = False                # a scene word whose colour supports its classes (not a colour word)
    colour_region: str = "all"         # where a scene word's colour lies (pixseek.io.colours.REGIONS): sky, top
    colour_alone: bool = False         # that colour there is evidence on its own (sky: blue at the top)


@dataclass
class ParsedQuery:
    terms: list[tuple[str, Sense]] = field(default_factory=list)   # (the words as typed, their meaning)
    unknown: list[str] = field(default_factory=list)               # content words with no meaning here
    stop: list[str] = field(default_factory=list)


class Lexicon:
    def __init__(self, words: dict[str, dict], noun_exc: dict[str, str]):
        self.words = words
        self.noun_exc = noun_exc
        self._singular: dict[str, str] = {}  # memo of ``singular``: file-name tokens repeat a lot

    @cached_property
    def max_phrase(self) -> int:
        """The most words a table key has (at least MAX_PHRASE); read on the first query that long."""
        return max([MAX_PHRASE] + [k.count(" ") + 1 for k in self.words])

    def lemma(self, word: str) -> str | None:
        """The table's form of ``word`` (itself, its singular; read as a query is: "hot-air" = "hot air"), or None."""
        w = word.lower()
        if w not in self.words and not TOKEN.fullmatch(w):
            w = " ".join(tokens(w))
        if w in self.words:
            return w
        head, _, last = w.rpartition(" ")
        cands = [self.noun_exc[last]] if last in self.noun_exc else []
        cands += [last[: -len(suf)] + rep for suf, rep in MORPHY_RULES if last.endswith(suf) and len(last) > len(suf) + 1]
        for c in cands:
            full = f"{head} {c}" if head else c
            if full in self.words:
                return full
        return None

    def singular(self, word: str) -> str:
        """``lemma`` when the table knows the word, else a rule-based singular (for file-name tokens)."""
        w = word.lower()
        if w not in self._singular:
            self._singular[w] = self._make_singular(w)
        return self._singular[w]

    def _make_singular(self, w: str) -> str:
        found = self.lemma(w)
        if found:
            return found
        if w in self.noun_exc:
            return self.noun_exc[w]
        for suf, rep in MORPHY_RULES:
            if w.endswith(suf) and len(w) > len(suf) + 2 and not w.endswith("ss"):
                return w[: -len(suf)] + rep
        return w

    def sense(self, word: str) -> Sense | None:
        w = word.lower()
        colour = COLOUR_ALIASES.get(w, w if w in COLOURS else None)
        key = self.lemma(w)
        entry = self.words.get(key) if key else None
        if entry is None and colour is None:
            return None
        if entry is None or (colour and entry["src"] != "wordnet"):  # "red": a colour, not its related labels
            return Sense(w, "colour", colour=colour)
        if entry.get("colour"):  # a scene word with the colour that covers much of such a picture
            return Sense(key, entry["src"], tuple(entry["classes"]), tuple(entry["weights"]), entry["colour"],
                         float(entry["colour_weight"]), tuple(entry.get("senses", ())), scene=True,
                         colour_region=entry.get("colour_region", "all"), colour_alone=bool(entry.get("colour_alone")))
        return Sense(key, entry["src"], tuple(entry["classes"]), tuple(entry["weights"]), colour,
                     senses=tuple(entry.get("senses", ())))

    def parse(self, text: str) -> ParsedQuery:
        words = tokens(text)
        out = ParsedQuery()
        i = 0
        while i < len(words):
            rest = len(words) - i  # the longest key is only looked for when the query is longer than MAX_PHRASE
            for n in range(rest if rest <= MAX_PHRASE else min(self.max_phrase, rest), 0, -1):
                phrase = " ".join(words[i:i + n])
                if n > 1 and self.lemma(phrase) is None:
                    continue
                if n == 1 and phrase in STOP_WORDS:
                    out.stop.append(phrase)
                    break
                s = self.sense(phrase)
                if s is None:
                    out.unknown.append(phrase)
                else:
                    out.terms.append((phrase, s))
                break
            i += n
        return out


SOURCES = ("wordnet", "related")


def save_table(words: dict[str, dict], noun_exc: dict[str, str], path) -> None:
    """The lexicon as flat arrays (loads in milliseconds, unlike JSON): words, CSR classes / weights. Keys are
    stored as a query reads them ("hot-air balloon" -> "hot air balloon"; a hierarchy entry wins a clash)."""
    read: dict[str, dict] = {}
    for k in sorted(words, key=lambda k: (words[k]["src"] != "wordnet", k)):
        read.setdefault(" ".join(tokens(k)), words[k])
    words = read
    keys = sorted(words)
    indptr = np.cumsum([0] + [len(words[k]["classes"]) for k in keys])
    np.savez(  # uncompressed: it loads faster than it would inflate; texts as UTF-8 bytes (a quarter of UTF-32)
        path, version=np.int64(TABLE_VERSION), words=_utf8("\n".join(keys)), indptr=indptr.astype(np.int32),
        classes=np.asarray([c for k in keys for c in words[k]["classes"]], np.int16),
        weights=np.asarray([w for k in keys for w in words[k]["weights"]], np.float16),
        source=np.asarray([SOURCES.index(words[k]["src"]) for k in keys], np.int8),
        senses=_utf8("\n".join(" ".join(words[k].get("senses", [])) for k in keys)),
        colour=_utf8("\n".join(words[k].get("colour", "") for k in keys)),
        colour_weight=np.asarray([words[k].get("colour_weight", 1.0) for k in keys], np.float16),
        colour_region=np.asarray([REGIONS.index(words[k].get("colour_region", "all")) for k in keys], np.int8),
        colour_alone=np.asarray([bool(words[k].get("colour_alone")) for k in keys], np.int8),
        exc_from=_utf8("\n".join(sorted(noun_exc))), exc_to=_utf8("\n".join(noun_exc[k] for k in sorted(noun_exc))))


def _utf8(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), np.uint8)


def _lines(a: np.ndarray) -> list[str]:
    """A stored text column -> its lines: UTF-8 bytes (uint8), or a numpy string (tables before 2026-12-04)."""
    return (a.tobytes().decode() if a.dtype == np.uint8 else str(a)).split("\n")


class _Entries(dict):
    """word -> entry dict, decoded from the flat arrays on first access of each word."""

    def __init__(self, z):
        super().__init__()
        self._z = z
        self._pos = {w: i for i, w in enumerate(_lines(z["words"]))}

    @cached_property
    def _senses(self) -> list[str]:
        return _lines(self._z["senses"])

    @cached_property
    def _colour(self) -> list[str]:
        return _lines(self._z["colour"])

    def __contains__(self, word) -> bool:
        return word in self._pos

    def __iter__(self):
        return iter(self._pos)

    def get(self, word, default=None):
        i = self._pos.get(word)
        if i is None:
            return default
        z = self._z
        a, b = z["indptr"][i], z["indptr"][i + 1]
        return {"src": SOURCES[int(z["source"][i])], "classes": z["classes"][a:b].astype(int).tolist(),
                "weights": z["weights"][a:b].astype(float).round(3).tolist(), "senses": self._senses[i].split(),
                "colour": self._colour[i] or None, "colour_weight": float(z["colour_weight"][i]),
                "colour_region": REGIONS[int(z["colour_region"][i])], "colour_alone": bool(z["colour_alone"][i])}

    def __getitem__(self, word):
        found = self.get(word)
        if found is None:
            raise KeyError(word)
        return found

    def __len__(self) -> int:
        return len(self._pos)


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The shipped table (src/pixseek/text/data/lexicon.npz), loaded once."""
    return load_lexicon(resources.files("pixseek.text").joinpath("data/lexicon.npz").read_bytes())


def load_lexicon(raw: bytes) -> Lexicon:
    """A lexicon from the bytes of a table file (the shipped one, or another release's for a comparison)."""
    with np.load(io.BytesIO(raw)) as npz:
        z = {k: npz[k] for k in npz.files}
    if int(z["version"]) != TABLE_VERSION:
        raise RuntimeError(f"pixseek.text: shipped lexicon version {int(z['version'])} != {TABLE_VERSION}; "
                           "rebuild with tools/build_text_tables.py")
    return Lexicon(_Entries(z), dict(zip(_lines(z["exc_from"]), _lines(z["exc_to"]))))
