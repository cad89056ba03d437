"""Search a library by description.

Four ways from words to images, picked by what the library's encoder offers:

* ``words`` (default for libraries with ImageNet-1k labels): each query word is looked up in the shipped
  lexicon (pixseek.text.lexicon: WordNet hypernyms -> the classes under them, related labels for scene
  and other words, colour terms) and scored per image from four signals, each in [0, 1]:
  classes (probability mass the stored label distribution puts on the word's weighted classes),
  colour (pixseek.text.colours), and the file's own words (file/folder name tokens, EXIF words) --
  fused as ``1 - (1 - max(classes, colour)) (1 - names)``. A query's score is the geometric mean ``g`` of
  its positive words' scores (each floored at FLOOR = 0.1), mapped by ``(g - 0.1) / 0.9`` (a single word
  keeps its score; no match scores 0), times ``(1 - score)`` of each negative word: one scale, [0, 1], where
  ``STRONG`` (0.5) and above reads "a strong match" and below ``WEAK`` (0.2) "probably not". With a query
  image, the image's cosine similarity (clipped to [0, 1]) is one more factor in the geometric mean.
  Nothing is embedded at query time.
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
from pixseek.search import Library
from pixseek.search.library import Hit
from pixseek.encoders.efficientnet import imagenet_labels
from pixseek.text.colours import colour_score
from pixseek.text.labels import LabelSpace, label_space
from pixseek.text.lexicon import Lexicon, Sense, lexicon
from pixseek.text.profiles import ProfileStore
from pixseek.text.sentence import SentenceModel, sentence_model
from pixseek.text.weights import classifier_weights, has_imagenet_weights

METHODS = ("words", "probs", "weights", "text-tower")
DEFAULT_METHOD = "words"  # measured winner, bench/text_search.py (issue 14)
SIGNALS = ("wordnet", "related", "colours", "names")
STRONG, WEAK = 0.5, 0.2   # score scale of the ``words`` method: strong match / probably not
NAME_SCORE = 0.8          # a query word among the file's own words (0.4 when half the library has it)
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

    def to_dict(self) -> dict:
        return {"text": self.text, "negative": self.negative, "matched": self.matched, "source": self.source,
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
        self._profiles: ProfileStore | None = None

    @staticmethod
    def default_method(encoder) -> str:
        """The encoder's text tower when it has one; else the lexicon (``words``) when its labels hold the
        ImageNet-1k block (it won on the photo dev set, bench/text_search.py); else stored label
        probabilities by sentence similarity (a tagger's own classes only)."""
        if encoder.config.text_tower:
            return "text-tower"
        return DEFAULT_METHOD if imagenet_offset(encoder) is not None else "probs"

    def close(self) -> None:
        if self._profiles is not None:
            self._profiles.close()
            self._profiles = None

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
        cat = self.library.catalog
        gen = cat.generation
        if self._probs is None or self._probs[0] != gen:
            n_labels = len(self.library.encoder.labels)
            ids, rows = [], []
            for chunk_ids, blobs in cat.iter_probs():
                arr = np.frombuffer(b"".join(blobs), np.float16).reshape(len(blobs), -1)
                if arr.shape[1] == n_labels:
                    ids.append(chunk_ids)
                    rows.append(arr)
            probs = np.concatenate(rows) if rows else np.zeros((0, n_labels), np.float16)
            self._probs = (gen, np.concatenate(ids) if ids else np.zeros(0, np.int64), probs)
        return self._probs[1], self._probs[2]

    def _prob_scores(self, dist: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        _, probs = self.stored_probs()
        cols = np.flatnonzero(dist)
        part = probs[:, cols] if rows is None else probs[rows][:, cols]
        return part.astype(np.float32) @ dist[cols]

    # -- term vectors (weights / text-tower) -------------------------------------------------------
    def _term_vector(self, term: str, dist: np.ndarray | None) -> np.ndarray:
        if self.method == "text-tower":
            return self.library.encoder.encode_text([term])[0]
        w = classifier_weights()
        return l2_normalize(dist[-w.shape[0]:] @ w)

    # -- ranking ----------------------------------------------------------------------------------
    def search(self, query: TextQuery | str, k: int = 10) -> TextResult:
        if isinstance(query, str):
            query = TextQuery(text=(query,))
        if self.method == "words":
            return self._search_words(query, k)
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
        ids, scores = (self._rank_text(pos, neg, k) if query.image is None
                       else self._rank_with_image(query.image, pos, neg, k))
        return TextResult(self._hits(ids, scores), terms, warnings, self.method)

    def _rank_text(self, pos, neg, k) -> tuple[np.ndarray, np.ndarray]:
        wn = self.config.negative_weight
        if self.method == "probs":
            all_ids, _ = self.stored_probs()
            if not len(all_ids):
                return all_ids, np.zeros(0, np.float32)
            s = sum((self._prob_scores(d) for d, _ in pos), np.zeros(len(all_ids), np.float32))
            s = s - wn * sum((self._prob_scores(d) for d, _ in neg), np.zeros(len(all_ids), np.float32))
            k = min(k, len(s))
            top = np.argpartition(-s, k - 1)[:k]
            top = top[np.argsort(-s[top], kind="stable")]
            return all_ids[top], s[top]
        q = sum((v for _, v in pos), np.zeros(self.library.dim, np.float32))
        q = q - wn * sum((v for _, v in neg), np.zeros(self.library.dim, np.float32))
        scores, ids = self.library.index.search(l2_normalize(q[None]), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def _rank_with_image(self, image, pos, neg, k) -> tuple[np.ndarray, np.ndarray]:
        lib = self.library
        img_scores, ids = lib.index.search(l2_normalize(np.asarray(image, np.float32).reshape(1, -1)),
                                           max(self.config.candidates, k))
        keep = ids[0] >= 0
        ids, img = ids[0][keep], img_scores[0][keep]
        if self.method == "probs":
            all_ids, _ = self.stored_probs()
            rows = np.searchsorted(all_ids, ids)
            ok = (rows < len(all_ids)) & (all_ids[np.minimum(rows, len(all_ids) - 1)] == ids)
            ids, img, rows = ids[ok], img[ok], rows[ok]
            text = lambda term: self._prob_scores(term[0], rows)  # noqa: E731
        else:
            vecs = lib.catalog.get_vectors(ids, lib.dim)
            text = lambda term: vecs @ term[1]  # noqa: E731
        s = _z(img)
        wt, wn = self.config.text_weight, self.config.negative_weight
        for term in pos:
            s = s + wt * _z(text(term))
        for term in neg:
            s = s - wt * wn * _z(text(term))
        order = np.argsort(-s, kind="stable")[:k]
        return ids[order], s[order]

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
        """One query string -> [(TermMatch, Sense | None, tagger columns)], with notes for ignored words."""
        parsed = self.lexicon.parse(text)
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
                warnings.append(f"no label matches '{word}' (no class, colour or related label): "
                                "matched against file and folder names only")
            else:
                out.append((TermMatch(word, negative, False, [], ""), None, []))
                warnings.append(f"no label matches '{word}' (no class, colour or related label, and no file "
                                "name has it); term ignored")
        return out

    def _term_report(self, typed: str, sense: Sense, negative: bool) -> TermMatch:
        labels = _imagenet_names()
        top = sorted(zip(sense.weights, sense.classes), key=lambda wc: (-wc[0], wc[1]))[:8]
        shown = [(labels[c], 1.0 if sense.source == "wordnet" else w, w) for w, c in top]
        if sense.colour:
            shown = [(f"colour {sense.colour}", 1.0, 1.0)] + shown
        return TermMatch(typed, negative, True, shown, sense.source)

    def _name_tokens(self) -> tuple[np.ndarray, list[str], list[set[str]]]:
        """(ids, paths, singular word set of each file's name, folders and EXIF words), once per generation."""
        cat = self.library.catalog
        gen = cat.generation
        if self._names is None or self._names[0] != gen:
            ids, _ = self.stored_probs()
            rows = cat.vector_rows(int(i) for i in ids)
            paths = [rows[int(i)].path if int(i) in rows else "" for i in ids]
            exif = self.profiles().words()
            toks = []
            for p in paths:
                parts = p.replace("\\", "/").rsplit("/", 3)[-3:]  # two folders and the file name
                parts[-1] = parts[-1].rsplit(".", 1)[0]
                text = " ".join(parts)
                text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
                words = set(re.findall(r"[a-z]{2,}", text + " " + exif.get(p, "")))
                toks.append({self.lexicon.singular(w) for w in words} | words)
            self._names = (gen, ids, paths, toks)
        return self._names[1], self._names[2], self._names[3]

    def profiles(self) -> ProfileStore:
        if self._profiles is None:
            self._profiles = ProfileStore(self.library.catalog.path)
        return self._profiles

    def _name_scores(self, typed: str) -> np.ndarray:
        _, _, toks = self._name_tokens()
        words = [self.lexicon.singular(w) for w in re.findall(r"[a-z0-9]+", typed.lower())]
        hit = np.array([all(w in t for w in words) for t in toks], bool)
        df = int(hit.sum())
        return hit.astype(np.float32) * (NAME_SCORE if df <= len(toks) / 2 else NAME_SCORE / 2)

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

    def _colour_scores(self, colour: str, rows: np.ndarray) -> np.ndarray:
        _, paths, _ = self._name_tokens()
        want = [paths[r] for r in rows]
        prof = self.profiles().get(want)
        return np.array([float(colour_score(prof[p].colours, colour)) if p in prof and prof[p].colours is not None
                         else 0.0 for p in want], np.float32)

    def _term_scores(self, term, rows: np.ndarray | None, with_colour: bool) -> np.ndarray:
        m, sense, tagger_cols = term
        vis = self._class_scores(sense, tagger_cols, rows)
        if with_colour and sense is not None and sense.colour and "colours" in self.config.signals:
            vis = np.maximum(vis, self._colour_scores(sense.colour, rows))
        if "names" in self.config.signals:
            names = self._name_scores(m.text)
            names = names if rows is None else names[rows]
            vis = 1.0 - (1.0 - vis) * (1.0 - names)
        return vis

    def _search_words(self, query: TextQuery, k: int) -> TextResult:
        warnings: list[str] = []
        pos = [t for text in query.text for t in self._word_terms(text, False, warnings)]
        neg = [t for text in query.not_text for t in self._word_terms(text, True, warnings)]
        terms = [t[0] for t in pos + neg]
        pos = [t for t in pos if t[0].matched]
        neg = [t for t in neg if t[0].matched]
        ids, _, _ = self._name_tokens()
        if not len(ids) or (not pos and not neg and query.image is None):
            return TextResult([], terms, warnings, self.method)
        if query.image is not None:
            cand = self.library.index.search(l2_normalize(np.asarray(query.image, np.float32).reshape(1, -1)),
                                             max(self.config.candidates, k))
            keep = cand[1][0] >= 0
            rows = np.searchsorted(ids, cand[1][0][keep])
            ok = (rows < len(ids)) & (ids[np.minimum(rows, len(ids) - 1)] == cand[1][0][keep])
            rows, image_sim = rows[ok], np.clip(cand[0][0][keep][ok], 0.0, 1.0)
        else:
            rows, image_sim = np.arange(len(ids)), None
        colour_only = [t for t in pos if t[1] is not None and t[1].colour and not t[1].classes]
        others = [t for t in pos if t not in colour_only]
        factors = [image_sim] if image_sim is not None else []
        factors += [self._term_scores(t, rows, False) for t in others]
        if colour_only or any(t[1] is not None and t[1].colour for t in neg + others):
            if factors:  # colours are read from the files: only for the best images by the other words
                short = np.argsort(-combine(factors)[0], kind="stable")[: self.config.colour_shortlist]
                rows = rows[short]
                image_sim = image_sim[short] if image_sim is not None else None
            factors = [image_sim] if image_sim is not None else []
            factors += [self._term_scores(t, rows, True) for t in others + colour_only]
        score, evidence = combine(factors) if factors else (np.ones(len(rows), np.float32),) * 2
        for t in neg:
            keep = 1.0 - self._term_scores(t, rows, True)
            score, evidence = score * keep, evidence * keep
        if not pos and query.image is None:
            warnings.append("only negative terms: ranking by what the images are least like")
        order = np.lexsort((-evidence, -score))[:k]
        order = order[evidence[order] > 0.0]  # no evidence at all is not a hit
        if pos and not len(order):
            warnings.append("no image matches the words")
        if pos and len(order) and score[order[0]] < WEAK:
            warnings.append(f"no strong match: the best score is {score[order[0]]:.2f} (strong >= {STRONG}, "
                            f"weak < {WEAK})")
        return TextResult(self._hits(ids[rows[order]], score[order]), terms, warnings, self.method)

    def _hits(self, ids: np.ndarray, scores: np.ndarray) -> list[Hit]:
        rows = self.library.catalog.vector_rows(int(i) for i in ids)
        return [Hit(rows[int(i)].path, float(s), int(i), rows[int(i)].t_sec, rows[int(i)].kind)
                for i, s in zip(ids, scores) if int(i) in rows]


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


class TextHits(list):
    """[(vector id, score)], best first, with ``labels``: the (label, weight) pairs the words matched, and
    ``warnings``: the notes for the user (a word ignored, no strong match)."""

    def __init__(self, hits=(), labels: list[tuple[str, float]] | None = None, warnings: list[str] | None = None):
        super().__init__(hits)
        self.labels = labels or []
        self.warnings = warnings or []


def api_text_search(library: Library):
    """The text search seam for the HTTP API (pixseek.api.backends) and whoever routes text queries
    (Library.query later): ``text_search(text, k) -> TextHits`` of (vector id, score in [0, 1]), best first.
    ``text`` is one line, ``-word`` for a negative term (see parse_text)."""
    searcher = TextSearcher(library)

    def text_search(text: str, k: int) -> TextHits:
        result = searcher.search(parse_text(text), k)
        labels = [(name, w) for t in result.terms if t.matched and not t.negative for name, _, w in t.labels]
        return TextHits(((h.id, h.score) for h in result.hits), labels, result.warnings)

    return text_search
