"""Label texts: what each classifier output of an encoder means, in words, embedded once.

ImageNet-1k outputs get their WordNet lemmas as prompts ("a photo of a tabby cat") plus their gloss;
a user tagger's own classes get their names. Each label owns several texts; a query's similarity to a
label is its best match among them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixseek.encoders import Encoder
from pixseek.encoders.efficientnet import imagenet_classes, imagenet_labels
from pixseek.text.sentence import SentenceModel

MAX_LEMMAS = 3


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def prompts_for(lemmas: list[str], gloss: str | None) -> list[str]:
    out = [f"a photo of {_article(lem)} {lem}" for lem in lemmas[:MAX_LEMMAS]]
    if gloss:
        out.append(f"{lemmas[0]}: {gloss}")
    return out


@dataclass(frozen=True)
class LabelSpace:
    names: list[str]           # one per classifier output, in probability order
    owner: np.ndarray          # (n_texts,) label index of each text
    vectors: np.ndarray        # (n_texts, d) sentence vectors of the texts

    def similarity(self, query_vecs: np.ndarray) -> np.ndarray:
        """(q, d) query vectors -> (q, n_labels) best cosine over each label's texts."""
        sims = np.asarray(query_vecs, np.float32) @ self.vectors.T
        out = np.full((len(sims), len(self.names)), -1.0, np.float32)
        for row, s in enumerate(sims):
            np.maximum.at(out[row], self.owner, s)
        return out


def label_texts(encoder: Encoder) -> tuple[list[str], list[str], list[int]]:
    """(label names, texts, owner of each text) for an encoder's classifier outputs."""
    names = list(encoder.labels or [])
    texts: list[str] = []
    owner: list[int] = []
    imagenet = imagenet_labels()
    classes = imagenet_classes()
    for _, start, stop in encoder.label_groups():
        is_imagenet = names[start:stop] == imagenet
        for j in range(start, stop):
            if is_imagenet:
                _, lemmas, gloss = classes[j - start]
                group = prompts_for([w.strip() for w in lemmas.split(",") if w.strip()], gloss.strip())
            else:
                name = names[j].replace("_", " ").strip()
                group = prompts_for([name], None) + [name]
            texts += group
            owner += [j] * len(group)
    return names, texts, owner


def label_space(encoder: Encoder, model: SentenceModel) -> LabelSpace:
    names, texts, owner = label_texts(encoder)
    return LabelSpace(names, np.asarray(owner, np.int64), model.embed_cached(texts))
