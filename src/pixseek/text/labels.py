"""Label texts: what each classifier output of an encoder means, in words, embedded once.

ImageNet-1k outputs get their WordNet lemmas as prompts ("a photo of a tabby cat") plus their gloss;
a user tagger's own classes get their names. Each label owns several texts; a query's similarity to a
label is its best match among them. The ImageNet texts' vectors ship in ``data/labels-minilm.npz``
(tools/build_text_tables.py), so no label is embedded at query time; a tagger's own names are embedded
once and cached.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

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


def imagenet_label_texts() -> tuple[list[str], list[int]]:
    """(texts, owner class of each text) for the 1,000 ImageNet-1k classes."""
    texts: list[str] = []
    owner: list[int] = []
    for j, (_, lemmas, gloss) in enumerate(imagenet_classes()):
        group = prompts_for([w.strip() for w in lemmas.split(",") if w.strip()], gloss.strip())
        texts += group
        owner += [j] * len(group)
    return texts, owner


@lru_cache(maxsize=1)
def shipped_label_vectors() -> tuple[tuple[str, ...], np.ndarray]:
    """(texts, float32 vectors) of the ImageNet label texts, as shipped (built by tools/build_text_tables.py)."""
    with resources.files("pixseek.text").joinpath("data/labels-minilm.npz").open("rb") as f:
        z = np.load(f)
        return tuple(str(t) for t in z["texts"]), z["vectors"].astype(np.float32)


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
    shipped, vecs = shipped_label_vectors()
    pos = {t: i for i, t in enumerate(shipped)}
    out = np.zeros((len(texts), vecs.shape[1]), np.float32)
    known = [i for i, t in enumerate(texts) if t in pos]
    out[known] = vecs[[pos[texts[i]] for i in known]]
    rest = [i for i, t in enumerate(texts) if t not in pos]
    if rest:
        out[rest] = model.embed_cached([texts[i] for i in rest])
    return LabelSpace(names, np.asarray(owner, np.int64), out)
