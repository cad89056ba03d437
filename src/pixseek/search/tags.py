"""Tags: the one policy for what a tag word matches and when an item "has" a tag.

Indexing stores, per vector, the classifier labels that hold at least ``TagPolicy.min_score``
(the three best per label group); a filter or tag search resolves the user's word to label names
with :class:`LabelVocabulary` (a class's WordNet names, or the head noun of one: "cat" matches
"tabby cat"), then selects the vectors stored with one of them, in SQL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pixseek.encoders import Encoder


@dataclass(frozen=True)
class TagPolicy:
    min_score: float = 0.15  # a label counts as a tag of an image from this probability on
    top: int = 3             # labels stored per label group and image
    synonyms: bool = True    # match a label's WordNet synonyms and head nouns, not only its name


DEFAULT_TAGS = TagPolicy()


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

    def __init__(self, labels: list[str], synonyms: list[list[str]] | None = None):
        self.labels = labels
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
        from pixseek.encoders.efficientnet import imagenet_classes, imagenet_labels

        names = {lab: [lab] for lab in encoder.labels}
        if set(imagenet_labels()) <= set(encoder.labels):
            for lab, row in zip(imagenet_labels(), imagenet_classes()):
                names[lab] = [s.strip() for s in row[1].split(",") if s.strip()] or [lab]
        return cls(list(encoder.labels), [names[lab] for lab in encoder.labels])

    def match(self, query: str, policy: TagPolicy = DEFAULT_TAGS) -> list[int]:
        """Class indices the query names, exact names first."""
        q = _norm(query)
        if not q:
            return []
        candidates = [q, _singular(q)]
        if not policy.synonyms:
            return sorted({i for i, lab in enumerate(self.labels) if _norm(lab) in candidates})
        exact = set().union(*(self._exact.get(c, set()) for c in candidates))
        head = set().union(*(self._head.get(c, set()) for c in candidates)) if " " not in q else set()
        return sorted(exact) + sorted(head - exact)
