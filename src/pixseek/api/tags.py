"""Tag search and tag filters over the classifier labels stored with each vector (ImageNet-1k for
the default encoder). A word matches a class when it is one of the class's names (WordNet lemmas)
or the head noun of one ("cat" matches "tabby cat"). Free-text search proper lives in
``pixseek.text`` when present; this is the exact-tag fallback and the facet filter. A word with no exact or head match falls back on the shipped
WordNet hierarchy (pixseek.text.lexicon: "flower" -> daisy, "dog" -> the dog breeds) for ImageNet labels."""
from __future__ import annotations

import re

import numpy as np

from pixseek.encoders import Encoder
from pixseek.text.lexicon import lexicon

TAG_MIN_PROB = 0.15  # an item "has" a tag when the matched classes hold this much probability (or rank first)


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


class LabelVocabulary:
    """Class index -> names, and word -> matching class indices."""

    def __init__(self, labels: list[str], synonyms: list[list[str]] | None = None, imagenet: bool = False):
        self.labels = labels
        self.imagenet = imagenet
        self.names = synonyms or [[lab] for lab in labels]
        self._exact: dict[str, set[int]] = {}
        self._head: dict[str, set[int]] = {}
        for i, names in enumerate(self.names):
            for name in names:
                n = _norm(name)
                self._exact.setdefault(n, set()).add(i)
                self._head.setdefault(n.split(" ")[-1], set()).add(i)

    @classmethod
    def for_encoder(cls, encoder: Encoder) -> "LabelVocabulary | None":
        if not encoder.labels:
            return None
        synonyms = None
        try:
            from pixseek.encoders.efficientnet import imagenet_classes, imagenet_labels

            if list(encoder.labels) == imagenet_labels():
                synonyms = [[s.strip() for s in row[1].split(",") if s.strip()] for row in imagenet_classes()]
        except ImportError:  # pragma: no cover - the default encoder module is always there
            pass
        return cls(list(encoder.labels), synonyms, imagenet=synonyms is not None)

    def match(self, query: str) -> list[int]:
        """Class indices the query names, exact names first."""
        q = _norm(query)
        if not q:
            return []
        candidates = [q, _singular(q)]
        exact = set().union(*(self._exact.get(c, set()) for c in candidates))
        head = set().union(*(self._head.get(c, set()) for c in candidates)) if " " not in q else set()
        if not exact and not head and self.imagenet:
            sense = lexicon().sense(q)
            if sense is not None and sense.source == "wordnet":
                return sorted(c for c, w in zip(sense.classes, sense.weights) if w >= 0.5)
        return sorted(exact) + sorted(head - exact)


def tag_scores(probs: np.ndarray, classes: list[int]) -> np.ndarray:
    """(n, n_labels) probabilities -> (n,) probability mass on ``classes``."""
    if not classes or probs.size == 0:
        return np.zeros(len(probs), np.float32)
    return probs[:, classes].astype(np.float32).sum(1)


def has_tag(probs: np.ndarray, top1: np.ndarray, classes: list[int]) -> np.ndarray:
    """(n,) bool: items whose top label is one of ``classes`` or that give them TAG_MIN_PROB."""
    if not classes:
        return np.zeros(len(probs), bool)
    return np.isin(top1, classes) | (tag_scores(probs, classes) >= TAG_MIN_PROB)
