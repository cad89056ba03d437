"""Search a library by description.

Three ways from words to images, picked by what the library's encoder offers:

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

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from pixseek.encoders.base import l2_normalize
from pixseek.search import Library
from pixseek.search.library import Hit
from pixseek.text.labels import LabelSpace, label_space
from pixseek.text.sentence import SentenceModel, sentence_model
from pixseek.text.weights import classifier_weights, has_imagenet_weights

METHODS = ("probs", "weights", "text-tower")
DEFAULT_METHOD = "weights"  # measured winner, bench/text_search.py


@dataclass(frozen=True)
class TextSearchConfig:
    method: str | None = None        # None: text-tower when the encoder has one, else DEFAULT_METHOD
    top_labels: int = 10             # labels kept in a query's distribution
    temperature: float = 0.05        # softmax temperature over cosine similarities
    min_similarity: float = 0.4      # a term whose best label is below this matches nothing
    candidates: int = 200            # image + text: neighbours of the image that are re-ranked
    negative_weight: float = 1.0
    text_weight: float = 1.0         # image + text: weight of the text against the image


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

    def to_dict(self) -> dict:
        return {"text": self.text, "negative": self.negative, "matched": self.matched,
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
        if method in ("probs", "weights") and not encoder.labels:
            raise ValueError(f"{encoder.model_id} has no labels to search by text through")
        if method == "weights" and not has_imagenet_weights(encoder):
            raise ValueError(f"{encoder.model_id}: 'weights' needs the EfficientNet-Lite0 embedding space")
        self.method = method

    @staticmethod
    def default_method(encoder) -> str:
        """The encoder's text tower when it has one; else classifier weights (they won on the emoji dev
        set, bench/text_search.py) when the vectors live in their space and there are no user classes;
        else stored label probabilities (which cover a tagger's own classes)."""
        if encoder.config.text_tower:
            return "text-tower"
        only_imagenet = len(encoder.labels or []) == 1000  # a tagger's own classes have no weight rows here
        return DEFAULT_METHOD if only_imagenet and has_imagenet_weights(encoder) else "probs"

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

    def _hits(self, ids: np.ndarray, scores: np.ndarray) -> list[Hit]:
        rows = self.library.catalog.vector_rows(int(i) for i in ids)
        return [Hit(rows[int(i)].path, float(s), int(i), rows[int(i)].t_sec, rows[int(i)].kind)
                for i, s in zip(ids, scores) if int(i) in rows]


def parse_text(text: str) -> TextQuery:
    """One line of words, ``-word`` for a negative term: "beach -people" -> text=(beach,), not=(people,)."""
    words = text.split()
    pos = " ".join(w for w in words if not w.startswith("-"))
    neg = tuple(w[1:] for w in words if w.startswith("-") and len(w) > 1)
    return TextQuery(text=(pos,) if pos else (), not_text=neg)


class TextHits(list):
    """[(vector id, score)], best first, with ``labels``: the (label, weight) pairs the words matched."""

    labels: list[tuple[str, float]] = []


def api_text_search(library: Library):
    """The HTTP API's text seam (pixseek.api.backends): (text, k) -> [(vector id, score)], best first."""
    searcher = TextSearcher(library)

    def text_search(text: str, k: int) -> TextHits:
        result = searcher.search(parse_text(text), k)
        found = TextHits((h.id, h.score) for h in result.hits)
        found.labels = [(name, w) for t in result.terms if t.matched and not t.negative for name, _, w in t.labels]
        return found

    return text_search
