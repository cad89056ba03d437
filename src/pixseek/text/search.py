"""Search a library by description.

Four ways from words to images, picked by what the library's encoder offers:

* ``words`` (default for libraries with ImageNet-1k labels): each query word is looked up in the shipped
  lexicon (pixseek.text.lexicon: WordNet hypernyms -> the classes under them, related labels for scene
  and other words, colour terms) and scored per image from four signals, each in [0, 1]:
  classes (probability mass the stored label distribution puts on the word's weighted classes),
  colour (the profile stored at ingest, pixseek.io.colours), and the file's own words (file/folder name
  tokens, the EXIF/XMP description and keywords stored at ingest; a file word below the query word in
  the hierarchy counts too, less: "tiger.jpg" for "animal") --
  fused as ``1 - (1 - visual) (1 - names)``; ``visual`` is a colour word's colour score, else the class
  score (for a scene word times ``1 + w * colour``, its colour's weight w, capped at 1, the colour read where
  it lies: blue in the top third for "sky"; for a word that names the coloured surface itself -- sky,
  grass, sea, snow -- at least ``COLOUR_ALONE * w * colour``) after
  pseudo-relevance feedback (pixseek.text.expand: similarity to the centroid of the word's best images). A query's score is the geometric mean ``g`` of
  its positive words' scores (each floored at FLOOR = 0.1), mapped by ``(g - 0.1) / 0.9`` (a single word
  keeps its score; no match scores 0), times ``(1 - score)`` of each negative word, in [0, 1]; then mapped
  onto the library's scale (:meth:`TextSearcher.calibrate`: ``STRONG``, "a strong match" on the dev sets,
  lands on image search's relevance floor, so ``Hit.weak`` means the same for text, image and mixed
  queries). With a query image, the image's cosine similarity (clipped to [0, 1]) is one more factor in
  the geometric mean, over the image's neighbours. Nothing is embedded at query time.

Every method answers through the library's one read path (``Library.query_scored`` for word scores,
``Library.query`` for a query vector): filters, stacks of copies, merged video shots, relevance feedback
(``like`` / ``unlike``) and the weak-hit floor are the library's, the same as for an image query.
* ``probs``: the query becomes a soft distribution over the
  encoder's labels (sentence-model cosine to each label's texts, softmax over the top ``top_labels``);
  an image scores the probability its stored label distribution gives to that query distribution.
* ``weights`` (default for EfficientNet-Lite0 libraries; it won on the emoji dev set): the same label
  distribution mixes the classifier's weight vectors (EfficientNet-Lite0's
  ``_fc`` rows, which live in the image-embedding space) into one query vector, searched with FAISS.
* ``text-tower``: an image+text encoder (CLIP, SigLIP) embeds the words itself.

Queries are weighted terms: positive ``text``, negative ``not`` terms, and optionally an image
("like this, but red"): then the image's nearest ``candidates`` neighbours are re-ranked by the sum of
the z-scored image similarity and the z-scored text score.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from pixseek.encoders.base import l2_normalize
from pixseek.search import Filter, Library
from pixseek.search.library import Hit
from pixseek.encoders.efficientnet import imagenet_labels
from pixseek.text.colours import colour_score
from pixseek.text.expand import feedback
from pixseek.text.labels import LabelSpace, label_space
from pixseek.text.lexicon import Lexicon, Sense, fold, lexicon, tokens, unread
from pixseek.text.sentence import SentenceModel, sentence_model
from pixseek.text.weights import classifier_weights, has_imagenet_weights

METHODS = ("words", "probs", "weights", "text-tower")
DEFAULT_METHOD = "words"  # measured winner, bench/text_search.py (issue 14)
SIGNALS = ("wordnet", "related", "colours", "names", "feedback")
STRONG = 0.7              # a word score from which a hit is a strong match: precision >= 0.9 on the dev sets
                          # (bench/text_search.py, 2026-12-03); calibrate() puts it on the floor
NAME_SCORE = 0.8          # a query word among the file's own words (0.4 when half the library has it)
NARROWER_NAME = 0.75      # a file word below the query word in the hierarchy ("labrador.jpg" for "dog"):
                          # this much of NAME_SCORE, times the share of the file word's classes the query reaches
NARROWER_SHARE = 0.75     # ... when that share is at least this (tiger for "animal": 1.0; not "crane" for "bird":
                          # 0.5, the machine or the bird; nor a folder "Work" for "building", bakery or comic book)
# folder and file-name words that say where a picture came from, not what it shows (Android's DCIM/Camera,
# ~/Pictures, /home/<user>): no name signal, exact or narrower ("camera" is not every phone photo)
PROVENANCE = frozenset("""home users user pictures picture photos photo images image img pics pic dcim camera
    screenshots screenshot downloads download desktop documents wallpapers wallpaper media backup backups phone
    mobile whatsapp telegram signal instagram export exports edited thumbnails thumbs library""".split())
TIE = 1e-3                # weight of the evidence (mean factor) that orders equal scores
COLOUR_ALONE = 0.7        # a surface word's colour in its region, alone, counts this much times its weight
                          # (sky: blue top third 0.7 x 0.7; bench/text_search.py, issue 14 layout round)
MAX_WORDS = 32            # ``words``: the words of a query read (all its strings, positive then negative);
                          # the rest is named in a note (a pasted paragraph costs 20k terms, 6 s, otherwise)
FLOOR = 0.1               # a word's floor inside the geometric mean, then (g - FLOOR) / (1 - FLOOR): one
                          # missing word of two does not zero the image, and no match at all scores 0


@dataclass(frozen=True)
class TextSearchConfig:
    method: str | None = None        # None: text-tower when the encoder has one, else DEFAULT_METHOD
    top_labels: int = 10             # labels kept in a query's distribution
    temperature: float = 0.05        # softmax temperature over cosine similarities
    min_similarity: float = 0.4      # a term whose best label is below this matches nothing
    candidates: int = 200            # image + text: neighbours of the image that are re-ranked
    negative_weight: float = 1.0
    text_weight: float = 1.0         # image + text: weight of the text against the image
    signals: tuple[str, ...] = SIGNALS  # ``words``: which signals count (bench ablations)
    colour_shortlist: int = 500      # ``words``: images whose colours are read, best by the other words


@dataclass(frozen=True)
class TextQuery:
    text: tuple[str, ...] = ()
    not_text: tuple[str, ...] = ()
    image: np.ndarray | None = None  # an embedded query image (1-D), from Library.embed


@dataclass
class TermMatch:
    text: str
    negative: bool
    matched: bool
    labels: list[tuple[str, float, float]] = field(default_factory=list)  # (label, cosine, weight)
    source: str = ""  # ``words``: wordnet / related / colour / names / tagger
    classes: int = 0  # how many classifier classes the term reaches (``labels`` shows the first few)

    def to_dict(self) -> dict:
        return {"text": self.text, "negative": self.negative, "matched": self.matched, "source": self.source,
                "classes": self.classes,
                "labels": [{"label": n, "similarity": round(s, 4), "weight": round(w, 4)} for n, s, w in self.labels]}


@dataclass
class TextResult:
    hits: list[Hit]
    terms: list[TermMatch]
    warnings: list[str]
    method: str

    def to_dict(self) -> dict:
        return {"hits": [h.to_dict() for h in self.hits], "terms": [t.to_dict() for t in self.terms],
                "warnings": self.warnings, "method": self.method}


def _shown(word: str, most: int = 40) -> str:
    """A query word as a note quotes it: a pasted 100 kB "word" is cut."""
    return word if len(word) <= most else word[:most] + "..."


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


class TextSearcher:
    """Text (and image + text) queries over one open :class:`Library`."""

    def __init__(self, library: Library, config: TextSearchConfig = TextSearchConfig(),
                 model: SentenceModel | None = None):
        self.library = library
        self.config = config
        self._model = model
        self._probs: tuple[int, np.ndarray, np.ndarray] | None = None  # (generation, ids, probs)
        self._mass: tuple[int, np.ndarray] | None = None  # (generation, summed probability per class)
        encoder = library.encoder
        method = config.method or self.default_method(encoder)
        if method not in METHODS:
            raise ValueError(f"unknown text search method {method!r}; one of {METHODS}")
        if method == "text-tower" and not encoder.config.text_tower:
            raise ValueError(f"{encoder.model_id} has no text tower; use 'probs' or 'weights'")
        if method in ("words", "probs", "weights") and not encoder.labels:
            raise ValueError(f"{encoder.model_id} has no labels to search by text through")
        if method == "weights" and not has_imagenet_weights(encoder):
            raise ValueError(f"{encoder.model_id}: 'weights' needs the EfficientNet-Lite0 embedding space")
        self.method = method
        self._offset = imagenet_offset(encoder)
        self._names: tuple[int, np.ndarray, list[str], list[set[str]]] | None = None
        self._name_index: tuple[int, list[tuple[str, dict[int, float]]], np.ndarray, np.ndarray] | None = None
        self._colours: tuple[int, np.ndarray] | None = None  # (generation, (n, LAYOUT) layouts of stored_probs' ids)
        self._visual: dict[tuple, np.ndarray] = {}  # (generation, sense, tagger columns) -> visual scores, all rows

    @staticmethod
    def default_method(encoder) -> str:
        """The encoder's text tower when it has one; else the lexicon (``words``) when its labels hold the
        ImageNet-1k block (it won on the photo dev set, bench/text_search.py); else stored label
        probabilities by sentence similarity (a tagger's own classes only)."""
        if encoder.config.text_tower:
            return "text-tower"
        return DEFAULT_METHOD if imagenet_offset(encoder) is not None else "probs"

    def close(self) -> None:
        """Nothing to release (kept for callers that close what they open)."""

    def warm(self) -> None:
        """Load what the first query would (the lexicon, this library's label probabilities and file
        words), so a server's first text query costs what the second does."""
        if self.method == "words":
            self.lexicon.parse("warm")
            self._name_vocabulary()
        elif self.method == "probs":
            self.stored_probs()

    # -- words -> label distributions ------------------------------------------------------------
    @property
    def model(self) -> SentenceModel:
        if self._model is None:
            self._model = sentence_model()
        return self._model

    @cached_property
    def labels(self) -> LabelSpace:
        return label_space(self.library.encoder, self.model)

    def match(self, term: str, negative: bool = False) -> tuple[TermMatch, np.ndarray | None]:
        """A term -> (its match report, its weights over all labels or None when nothing matches)."""
        sims = self.labels.similarity(self.model.embed([term]))[0]
        top = np.argsort(-sims)[: self.config.top_labels]
        if sims[top[0]] < self.config.min_similarity:
            return TermMatch(term, negative, False, [(self.labels.names[top[0]], float(sims[top[0]]), 0.0)]), None
        w = np.exp((sims[top] - sims[top[0]]) / self.config.temperature)
        w /= w.sum()
        dist = np.zeros(len(sims), np.float32)
        dist[top] = w
        shown = [(self.labels.names[i], float(sims[i]), float(wi)) for i, wi in zip(top, w) if wi >= 0.01]
        return TermMatch(term, negative, True, shown), dist

    # -- stored label probabilities ----------------------------------------------------------------
    def stored_probs(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids sorted, probs float16 (n, labels)), loaded once per catalog generation."""
        gen = self.library.generation
        if self._probs is None or self._probs[0] != gen:
            self._probs = (gen, *self.library.label_probs())
        return self._probs[1], self._probs[2]

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in :meth:`stored_probs`' ids (-1 for an item stored without probabilities)."""
        all_ids, _ = self.stored_probs()
        pos = np.searchsorted(all_ids, ids)
        ok = (pos < len(all_ids)) & (all_ids[np.minimum(pos, max(len(all_ids) - 1, 0))] == ids) if len(all_ids) \
            else np.zeros(len(ids), bool)
        return np.where(ok, pos, -1)

    # -- term vectors (weights / text-tower) -------------------------------------------------------
    def _term_vector(self, term: str, dist: np.ndarray | None) -> np.ndarray:
        if self.method == "text-tower":
            return self.library.encoder.encode_text([term])[0]
        w = classifier_weights()
        return l2_normalize(dist[-w.shape[0]:] @ w)

    # -- ranking: through the library's one read path ------------------------------------------------
    def search(self, query: TextQuery | str, k: int = 10, filter: Filter | None = None, *,  # noqa: A002
               stack: bool = True, like=(), unlike=()) -> TextResult:
        """The ``k`` best items for the words (and image) of ``query`` that pass ``filter``, through
        :meth:`Library.query_scored` (words) or :meth:`Library.query` (a query vector, or an image whose
        neighbours the words re-score): filters, stacks of copies, video shots, relevance feedback
        (``like`` / ``unlike``) and the relevance floor (``Hit.weak``) are the library's."""
        if isinstance(query, str):
            query = TextQuery(text=(query,))
        opts = {"stack": stack, "like": like, "unlike": unlike}
        if self.method == "words":
            return self._search_words(query, k, filter, opts)
        terms, warnings = [], []
        pos, neg = [], []  # (dist or None, vector or None)
        for text, negative in [(t, False) for t in query.text] + [(t, True) for t in query.not_text]:
            if self.method == "text-tower":
                m, dist = TermMatch(text, negative, True), None
            else:
                m, dist = self.match(text, negative)
            terms.append(m)
            if not m.matched:
                best, sim, _ = m.labels[0]
                warnings.append(f"no label matches '{text}' (closest: '{best}', similarity {sim:.2f}); term ignored")
                continue
            vec = self._term_vector(text, dist) if self.method != "probs" else None
            (neg if negative else pos).append((dist, vec))
        if not pos and not neg and query.image is None:
            return TextResult([], terms, warnings, self.method)
        if query.image is None and not pos:
            warnings.append("only negative terms: ranking by what the images are least like")
        lib, wn = self.library, self.config.negative_weight
        if query.image is not None:
            hits = lib.query(np.asarray(query.image, np.float32).reshape(1, -1), k, filter,
                             rescore=lambda ids, vecs: self._with_image(query.image, pos, neg, ids, vecs),
                             candidates=self.config.candidates, **opts)[0]
        elif self.method == "probs":
            def score(ids):
                rows = self._rows_of(ids)
                s = sum((self._prob_scores(d, rows) for d, _ in pos), np.zeros(len(ids), np.float32))
                s = s - wn * sum((self._prob_scores(d, rows) for d, _ in neg), np.zeros(len(ids), np.float32))
                return np.where(rows >= 0, s, -np.inf)
            hits = lib.query_scored(score, k, filter, **opts)
        else:  # one query vector: the library's plain vector search
            q = sum((v for _, v in pos), np.zeros(lib.dim, np.float32))
            q = q - wn * sum((v for _, v in neg), np.zeros(lib.dim, np.float32))
            hits = lib.query(l2_normalize(q[None]), k, filter, **opts)[0]
        return TextResult(hits, terms, warnings, self.method)

    def _prob_scores(self, dist: np.ndarray, rows: np.ndarray) -> np.ndarray:
        _, probs = self.stored_probs()
        cols = np.flatnonzero(dist)
        part = probs[np.maximum(rows, 0)][:, cols].astype(np.float32) if len(probs) else \
            np.zeros((len(rows), len(cols)), np.float32)
        return np.where(rows >= 0, part @ dist[cols], 0.0).astype(np.float32)

    def _with_image(self, image, pos, neg, ids, vecs) -> np.ndarray:
        """Image + words (``probs`` / vector methods): the z-scored image similarity plus the z-scored
        text score of each term, over the image's neighbours."""
        img = vecs @ np.asarray(image, np.float32).reshape(-1)
        if self.method == "probs":
            rows = self._rows_of(ids)
            text = lambda term: self._prob_scores(term[0], rows)  # noqa: E731
        else:
            text = lambda term: vecs @ term[1]  # noqa: E731
        s = _z(img)
        wt, wn = self.config.text_weight, self.config.negative_weight
        for term in pos:
            s = s + wt * _z(text(term))
        for term in neg:
            s = s - wt * wn * _z(text(term))
        return s

    # -- the ``words`` method ----------------------------------------------------------------------
    @property
    def lexicon(self) -> Lexicon:
        return lexicon()

    def _tagger_sense(self, word: str) -> tuple[str, list[int]] | None:
        """A word that names one of a tagger's own classes (not the ImageNet block)."""
        names = self.library.encoder.labels or []
        off = self._offset
        w = self.lexicon.singular(word)
        cols = [j for j, n in enumerate(names) if (off is None or not off <= j < off + 1000)
                and self.lexicon.singular(n.replace("_", " ").strip().lower()) == w]
        return (w, cols) if cols else None

    def _word_terms(self, text: str, negative: bool, warnings: list[str]):
        """One query string -> [(TermMatch, Sense | None, tagger columns)], with notes for ignored words:
        words it does not know, a query of only common words (what it cannot read at all is noted by
        ``_search_words``, on the text as typed)."""
        parsed = self.lexicon.parse(text)
        if parsed.stop and not parsed.terms and not parsed.unknown:
            warnings.append(f"only common words ({', '.join(parsed.stop[:5])}): nothing to search for")
        out = []
        for typed, sense in parsed.terms:
            out.append((self._term_report(typed, sense, negative), sense, []))
        for word in parsed.unknown:
            tag = self._tagger_sense(word)
            if tag is not None:
                out.append((TermMatch(word, negative, True, [(self.library.encoder.labels[c], 1.0, 1.0)
                                                               for c in tag[1]], "tagger"), None, tag[1]))
            elif "names" in self.config.signals and self._name_scores(word).any():
                out.append((TermMatch(word, negative, True, [], "names"), None, []))
                warnings.append(f"no label matches '{_shown(word)}' (no class, colour or related label): "
                                "matched against file and folder names only")
            else:
                out.append((TermMatch(word, negative, False, [], ""), None, []))
                warnings.append(f"no label matches '{_shown(word)}' (no class, colour or related label, and no file "
                                "name has it); term ignored")
        return out

    def _term_report(self, typed: str, sense: Sense, negative: bool) -> TermMatch:
        labels = _imagenet_names()
        # the classes shown first are those that weigh most in THIS library ("animal" -> tabby cat, sorrel
        # for a library of cats and horses, not the first classes of the hierarchy: tench, goldfish)
        mass = self._class_mass()
        present = (lambda c: float(mass[c])) if len(mass) else (lambda c: 0.0)
        top = sorted(zip(sense.weights, sense.classes), key=lambda wc: (-wc[0] * (present(wc[1]) + 1e-6), wc[1]))[:8]
        shown = [(labels[c], 1.0 if sense.source == "wordnet" else w, w) for w, c in top]
        if sense.colour:
            shown = [(f"colour {sense.colour}", 1.0, 1.0)] + shown
        return TermMatch(typed, negative, True, shown, sense.source, len(sense.classes))

    def _class_mass(self) -> np.ndarray:
        """Each class's summed probability over the library's images (per generation; empty without probs)."""
        gen = self.library.generation
        if self._mass is None or self._mass[0] != gen:
            _, probs = self.stored_probs()
            mass = probs.sum(0, dtype=np.float32) if len(probs) else np.zeros(0, np.float32)
            self._mass = (gen, mass)
        return self._mass[1]

    def _name_tokens(self) -> tuple[np.ndarray, list[str], list[set[str]]]:
        """(ids, paths, singular word set of each file's name, folders and EXIF words), once per generation."""
        gen = self.library.generation
        if self._names is None or self._names[0] != gen:
            ids, _ = self.stored_probs()
            fact_ids, fact_paths, fact_words = self.library.text_facts()
            where = {int(i): j for j, i in enumerate(fact_ids)}
            paths = [fact_paths[where[int(i)]] if int(i) in where else "" for i in ids]
            exif = {fact_paths[j]: fact_words[j] for j in range(len(fact_ids)) if fact_words[j]}
            toks = []
            for p in paths:
                parts = p.replace("\\", "/").rsplit("/", 3)[-3:]  # two folders and the file name
                parts[-1] = parts[-1].rsplit(".", 1)[0]
                text = fold(" ".join(parts))  # Café_Paris.jpg: cafe, paris (as a query reads "café")
                text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
                words = set(re.findall(r"[a-z]{2,}", text)) - PROVENANCE
                words |= set(re.findall(r"[a-z]{2,}", fold(exif.get(p, "")).lower()))
                toks.append({self.lexicon.singular(w) for w in words} | words)
            self._names = (gen, ids, paths, toks)
        return self._names[1], self._names[2], self._names[3]

    def _name_scores(self, typed: str, sense: Sense | None = None) -> np.ndarray:
        """Each stored image's name score for one query term: NAME_SCORE where the file's own words hold
        the term; else, for a hierarchy word, :meth:`_narrower_name_scores` (a file word below it); halved
        where more than half of the library matches (a folder every file shares says little)."""
        _, _, toks = self._name_tokens()
        words = [self.lexicon.singular(w) for w in re.findall(r"[a-z0-9]+", fold(typed).lower())]
        score = np.array([all(w in t for w in words) for t in toks], bool).astype(np.float32) * NAME_SCORE
        if sense is not None and sense.source == "wordnet" and sense.classes:
            score = np.maximum(score, self._narrower_name_scores(sense))
        return score if int((score > 0).sum()) <= len(toks) / 2 else score / 2

    def _narrower_name_scores(self, sense: Sense) -> np.ndarray:
        """A file word that names something below the query word in the WordNet hierarchy ("labrador.jpg",
        folder "Poodles" for "dog"; "hammer3.jpg" for "tool"): NAME_SCORE x NARROWER_NAME x the share of the
        file word's classes (a hierarchy entry of the lexicon, not a related-label guess) the query word's
        classes reach, where that share is at least NARROWER_SHARE; the best of a file's words."""
        vocab, flat, starts = self._name_vocabulary()
        want = dict(zip(sense.classes, sense.weights))
        per = np.zeros(len(vocab) + 1, np.float32)  # the last: a file with no hierarchy word
        for j, (word, classes) in enumerate(vocab):
            if word == sense.word:
                continue
            total = sum(classes.values())
            share = sum(w * want.get(c, 0.0) for c, w in classes.items()) / total if total else 0.0
            if share >= NARROWER_SHARE:
                per[j] = NAME_SCORE * NARROWER_NAME * min(1.0, share)
        return np.maximum.reduceat(per[flat], starts) if len(starts) else np.zeros(0, np.float32)

    def _name_vocabulary(self) -> tuple[list[tuple[str, dict[int, float]]], np.ndarray, np.ndarray]:
        """The files' words that are hierarchy entries of the lexicon, with their classes, and each file's
        of them as a flat index (``flat[starts[i]:starts[i + 1]]``; every file has at least the empty last
        entry), once per catalog generation."""
        gen = self.library.generation
        if self._name_index is None or self._name_index[0] != gen:
            _, _, toks = self._name_tokens()
            vocab: list[tuple[str, dict[int, float]]] = []
            where: dict[str, int] = {}   # a file word (poodles, poodle) -> its entry's place in vocab, or -1
            entry: dict[str, int] = {}   # an entry's word (poodle) -> its place in vocab
            flat, starts = [], []
            for t in toks:
                starts.append(len(flat))
                for w in sorted(t):
                    if w not in where:
                        s = self.lexicon.sense(w)
                        where[w] = -1
                        if s is not None and s.source == "wordnet" and s.classes:
                            if s.word not in entry:
                                entry[s.word] = len(vocab)
                                vocab.append((s.word, dict(zip(s.classes, s.weights))))
                            where[w] = entry[s.word]
                    if where[w] >= 0:
                        flat.append(where[w])
                flat.append(-1)  # the empty entry (its index is known once the vocabulary is)
            flat_arr = np.asarray(flat, np.int64)
            flat_arr[flat_arr < 0] = len(vocab)
            self._name_index = (gen, vocab, flat_arr, np.asarray(starts, np.int64))
        return self._name_index[1], self._name_index[2], self._name_index[3]

    def _class_scores(self, sense: Sense | None, tagger_cols: list[int], rows: np.ndarray | None) -> np.ndarray:
        _, probs = self.stored_probs()
        n = len(probs) if rows is None else len(rows)
        sig = self.config.signals
        if sense is not None and sense.classes and sense.source in sig:
            cols = np.asarray(sense.classes) + self._offset
            w = np.asarray(sense.weights, np.float32)
        elif tagger_cols:
            cols, w = np.asarray(tagger_cols), np.ones(len(tagger_cols), np.float32)
        else:
            return np.zeros(n, np.float32)
        part = probs[:, cols] if rows is None else probs[rows][:, cols]
        return np.minimum(1.0, part.astype(np.float32) @ w)

    def _colour_table(self) -> np.ndarray:
        """(n, LAYOUT) stored colour layouts of :meth:`stored_probs`' ids (NaN: none stored), loaded on
        the first colour word of a catalog generation."""
        gen = self.library.generation
        if self._colours is None or self._colours[0] != gen:
            self._colours = (gen, self.library.colours(self.stored_probs()[0]))
        return self._colours[1]

    def _visual_scores(self, sense: Sense | None, tagger_cols: list[int]) -> np.ndarray:
        """A word's visual score over every stored image (:meth:`stored_probs`' rows): its class score,
        for a scene word times ``1 + colour weight * colour score`` (capped at 1: the colour reorders the
        images its classes found, it finds none alone), then the pseudo-relevance feedback of
        :mod:`pixseek.text.expand` (``feedback`` signal); a colour word scores its colour; kept per
        catalog generation."""
        sig = self.config.signals
        key = (self.library.generation, sense, tuple(tagger_cols), sig)
        hit = self._visual.get(key)
        if hit is not None:
            return hit
        vis = self._class_scores(sense, tagger_cols, None)
        col = None
        if sense is not None and sense.colour and "colours" in sig:
            region = sense.colour_region if sense.scene else "all"
            col = np.nan_to_num(np.asarray(colour_score(self._colour_table(), sense.colour, region), np.float32),
                                nan=0.0)
            if sense.scene:  # a scene word: its colour where it lies supports its classes' evidence (grass:
                vis = np.minimum(1.0, vis * (1.0 + sense.colour_weight * col))  # green at the bottom)
        if "feedback" in sig and vis.any():  # seeds by the class score (a colour alone has no look to spread)
            vis = feedback(self.library, self.stored_probs()[0], vis)
        if col is not None and not sense.scene:  # a colour word (or a word that is also one: orange)
            vis = np.maximum(vis, sense.colour_weight * col)
        elif col is not None and sense.colour_alone:  # the surface itself (sky): its colour there stands alone
            vis = np.maximum(vis, COLOUR_ALONE * sense.colour_weight * col)
        if len(self._visual) >= 64:
            self._visual.pop(next(iter(self._visual)))
        self._visual[key] = vis
        return vis

    def _term_scores(self, term, rows: np.ndarray) -> np.ndarray:
        m, sense, tagger_cols = term
        vis = self._visual_scores(sense, tagger_cols)[rows]
        if "names" in self.config.signals:
            names = self._name_scores(m.text, sense)[rows]
            vis = 1.0 - (1.0 - vis) * (1.0 - names)
        return vis

    def _search_words(self, query: TextQuery, k: int, filter: Filter | None, opts: dict) -> TextResult:  # noqa: A002
        warnings: list[str] = []
        texts, budget, cut, skipped = [], MAX_WORDS, 0, []
        for text, negative in [(t, False) for t in query.text] + [(t, True) for t in query.not_text]:
            skipped += unread(text)  # other scripts, emoji: named even when the words around them are cut
            words = tokens(text)
            if len(words) > budget:
                cut += len(words) - budget
                text = " ".join(words[:budget])
            budget -= min(budget, len(words))
            texts.append((text, negative))
        if skipped:
            warnings.append("not read: " + ", ".join(f"'{_shown(w)}'" for w in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
                            + " (words are read in English: letters a-z and digits)")
        if cut:
            warnings.append(f"the query is too long: only its first {MAX_WORDS} words are read ({cut} left out)")
        pos = [t for text, negative in texts if not negative for t in self._word_terms(text, False, warnings)]
        neg = [t for text, negative in texts if negative for t in self._word_terms(text, True, warnings)]
        terms = [t[0] for t in pos + neg]
        pos = [t for t in pos if t[0].matched]
        neg = [t for t in neg if t[0].matched]
        all_ids, _ = self.stored_probs()
        if not len(all_ids) or (not pos and not neg and query.image is None):
            return TextResult([], terms, warnings, self.method)
        if not pos and query.image is None:
            warnings.append("only negative terms: ranking by what the images are least like")

        def score(ids: np.ndarray, image_sim: np.ndarray | None = None) -> np.ndarray:
            rows = self._rows_of(ids)
            r = np.maximum(rows, 0)
            factors = [image_sim] if image_sim is not None else []
            factors += [self._term_scores(t, r) for t in pos]
            sc, evidence = combine(factors) if factors else (np.ones(len(r), np.float32),) * 2
            for t in neg:
                keep = 1.0 - self._term_scores(t, r)
                sc, evidence = sc * keep, evidence * keep
            # on the library's scale; the evidence (mean of the factors) orders ties, so an image with part
            # of the words still ranks above one with none, and no evidence at all is no hit
            out = (1.0 - TIE) * self.calibrate(sc) + TIE * evidence
            return np.where((rows >= 0) & (evidence > 0), out, -np.inf)

        if query.image is None:
            hits = self.library.query_scored(score, k, filter, **opts)
        else:
            img = np.asarray(query.image, np.float32).reshape(-1)
            hits = self.library.query(img[None], k, filter, candidates=max(self.config.candidates, k), **opts,
                                      rescore=lambda ids, vecs: score(ids, np.clip(vecs @ img, 0.0, 1.0)))[0]
        if pos and not hits:
            warnings.append("no image matches the words")
        elif pos and hits[0].weak:
            warnings.append(f"no strong match: the best score is {hits[0].score:.2f}, under the relevance floor "
                            f"{self.library.relevance_floor:.2f} (the hits are marked weak)")
        return TextResult(hits, terms, warnings, self.method)

    def calibrate(self, score: np.ndarray) -> np.ndarray:
        """Word scores in [0, 1] -> the library's score scale: ``STRONG`` (a strong match, calibrated on the
        dev sets) lands on the relevance floor of image search, so one floor marks weak hits of text,
        image and mixed queries alike; piecewise linear, 0 -> 0 and 1 -> 1."""
        floor = self.library.relevance_floor
        s = np.clip(np.asarray(score, np.float32), 0.0, 1.0)
        if floor is None:
            return s
        return np.where(s < STRONG, s * (floor / STRONG), floor + (s - STRONG) * ((1.0 - floor) / (1.0 - STRONG)))


def combine(factors: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-image factor scores in [0, 1] (one per positive word, and the query image's similarity) ->
    (score, evidence). One factor: itself. Several: the geometric mean g of the factors floored at FLOOR,
    mapped by (g - FLOOR) / (1 - FLOOR) to [0, 1]. ``evidence`` (their plain mean) orders ties, so an image
    with part of the words still ranks above one with none."""
    f = np.asarray(factors, np.float32)
    if len(f) == 1:
        return f[0], f[0]
    g = np.exp(np.log(np.maximum(f, FLOOR)).mean(0))
    return np.clip((g - FLOOR) / (1.0 - FLOOR), 0.0, 1.0), f.mean(0)


@lru_cache(maxsize=1)
def _imagenet_names() -> tuple[str, ...]:
    return tuple(imagenet_labels())


def imagenet_offset(encoder) -> int | None:
    """Where the ImageNet-1k block starts in the encoder's labels, or None when it has none."""
    names = tuple(encoder.labels or [])
    inet = _imagenet_names()
    for _, start, stop in encoder.label_groups():
        if names[start:stop] == inet:
            return start
    return None


def parse_text(text: str) -> TextQuery:
    """One line of words, ``-word`` for a negative term: "beach -people" -> text=(beach,), not=(people,)."""
    words = text.split()
    pos = " ".join(w for w in words if not w.startswith("-"))
    neg = tuple(w[1:] for w in words if w.startswith("-") and len(w) > 1)
    return TextQuery(text=(pos,) if pos else (), not_text=neg)


@dataclass
class TextHits:
    """What the HTTP API's text seam answers: the hits (the library's :class:`Hit`, best first), the
    (label, weight) pairs the words matched, and the notes for the user (a word ignored, no strong match)."""

    hits: list[Hit]
    labels: list[tuple[str, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class ApiTextSearch:
    """The text search seam for the HTTP API (pixseek.api.backends): ``seam(text, k, filter, stack=,
    like=, unlike=) -> TextHits`` through the library's one read path, and :meth:`warm` (run at
    start-up). ``text`` is one line, ``-word`` for a negative term (see parse_text)."""

    def __init__(self, library: Library):
        self.searcher = TextSearcher(library)

    def __call__(self, text: str, k: int, filter: Filter | None = None, *, stack: bool = True,  # noqa: A002
                 like=(), unlike=()) -> TextHits:
        result = self.searcher.search(parse_text(text), k, filter, stack=stack, like=like, unlike=unlike)
        labels = [(name, w) for t in result.terms if t.matched and not t.negative for name, _, w in t.labels]
        return TextHits(result.hits, labels, result.warnings)

    def warm(self) -> None:
        self.searcher.warm()


def api_text_search(library: Library) -> ApiTextSearch:
    return ApiTextSearch(library)
