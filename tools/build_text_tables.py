"""Build the shipped text-search tables (src/pixseek/text/data/), once, from WordNet 3.0 and the sentence model.

    apt-get install -y wordnet-base      # WordNet 3.0 database under /usr/share/wordnet
    .venv/bin/python tools/build_text_tables.py

Writes
* ``lexicon.npz``: query word -> ImageNet-1k classes with weights in [0, 1]:
  - ``wordnet`` entries: every noun lemma whose synset is a hypernym of (or equal to) an ImageNet class.
    A class under sense ``s`` of the word gets ``w(s) / max w``, with ``w(s) = (count(s) + 1) / rank(s)``
    (WordNet's tagged-corpus lemma count and sense rank), so "flower" the plant outweighs rarer senses;
    a class under several senses takes the sum (capped at 1). Only senses that reach a class count.
  - ``related`` entries: the other common nouns and adjectives (lemma count >= 1, up to two words),
    which name no class (beach, mountain, sky): their top labels by the sentence model's cosine between
    the word and the label texts (lemma prompts and gloss), softmax at temperature 0.05 over the top 5,
    kept when the best cosine is >= 0.45; weights scaled by the best cosine. Scene words (main noun sense
    in noun.object / noun.location / noun.phenomenon / noun.time: beach, mountain, lake, sunset) are
    matched to the classes under geological_formation (seashore, lakeside, alp, valley, cliff...) when
    one reaches cosine 0.35; otherwise, as for other words, labels that contain the word other than as
    their head are skipped (leaf/leafhopper, tree/tree frog).
  - ``noun_exc``: WordNet's irregular plurals (mice -> mouse), for the runtime's lemmatiser.
* ``labels-minilm.npz``: the label texts' sentence vectors (float16) with their owner class, so no label
  is embedded at query time (pixseek.text.labels loads it when the texts match).

Runtime needs neither nltk nor wordnet-base: only these files.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pixseek.encoders.efficientnet import imagenet_classes  # noqa: E402
from pixseek.text.lexicon import COLOURS, STOP_WORDS, save_table  # noqa: E402

OUT = ROOT / "src" / "pixseek" / "text" / "data"
WORDNET = Path("/usr/share/wordnet")
LEXNAMES = ["adj.all 3", "adj.pert 3", "adv.all 4", "noun.Tops 1", "noun.act 1", "noun.animal 1", "noun.artifact 1",
            "noun.attribute 1", "noun.body 1", "noun.cognition 1", "noun.communication 1", "noun.event 1",
            "noun.feeling 1", "noun.food 1", "noun.group 1", "noun.location 1", "noun.motive 1", "noun.object 1",
            "noun.person 1", "noun.phenomenon 1", "noun.plant 1", "noun.possession 1", "noun.process 1",
            "noun.quantity 1", "noun.relation 1", "noun.shape 1", "noun.state 1", "noun.substance 1", "noun.time 1",
            "verb.body 2", "verb.change 2", "verb.cognition 2", "verb.communication 2", "verb.competition 2",
            "verb.consumption 2", "verb.contact 2", "verb.creation 2", "verb.emotion 2", "verb.motion 2",
            "verb.perception 2", "verb.possession 2", "verb.social 2", "verb.stative 2", "verb.weather 2",
            "adj.ppl 3"]
RELATED_TOP, RELATED_T, RELATED_MIN, SCENE_MIN = 5, 0.05, 0.45, 0.35


def wordnet_reader():
    """nltk's reader over Debian's WordNet 3.0 (which lacks the ``lexnames`` file nltk wants: written here)."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    tmp = Path(tempfile.mkdtemp(prefix="wordnet-"))
    for f in WORDNET.iterdir():
        if f.is_file():
            shutil.copy(f, tmp / f.name)  # nltk refuses symlinks out of its root
    (tmp / "lexnames").write_text("".join(f"{i:02d}\t{n.split()[0]}\t{n.split()[1]}\n" for i, n in enumerate(LEXNAMES)))
    nltk.data.path.append(str(tmp))  # nltk only reads corpora under its data path

    class Reader(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None  # the data is WordNet 3.0 itself (nltk would look for its own copy to map from)

    return Reader(str(tmp), None)


def sense_weight(lemma, rank: int) -> float:
    return (lemma.count() + 1) / rank


def build_lexicon(wn) -> tuple[dict, dict]:
    classes = imagenet_classes()
    under: dict[str, set[int]] = {}  # synset name -> classes under it (or equal)
    for idx, (wnid, _, _) in enumerate(classes):
        syn = wn.synset_from_pos_and_offset("n", int(wnid[1:]))
        for s in {syn} | set(syn.closure(lambda x: x.hypernyms() + x.instance_hypernyms())):
            under.setdefault(s.name(), set()).add(idx)
    lemmas = sorted({lem.name().lower() for name in under for lem in wn.synset(name).lemmas()})
    words: dict[str, dict] = {}
    for word in lemmas:
        senses = wn.synsets(word, "n")
        w_cls: dict[int, float] = {}
        weights = []
        for rank, s in enumerate(senses, 1):
            if s.name() not in under:
                continue
            lem = next((x for x in s.lemmas() if x.name().lower() == word), s.lemmas()[0])
            weights.append((sense_weight(lem, rank), s.name()))
        if not weights:
            continue
        top = max(w for w, _ in weights)
        for w, name in weights:
            for c in under[name]:
                w_cls[c] = min(1.0, w_cls.get(c, 0.0) + w / top)
        key = word.replace("_", " ")
        words[key] = {"src": "wordnet", "senses": [n for _, n in sorted(weights, reverse=True)][:3],
                      "classes": sorted(w_cls), "weights": [round(w_cls[c], 3) for c in sorted(w_cls)]}
    return words, under


SCENE_LEXNAMES = {"noun.object", "noun.location", "noun.phenomenon", "noun.time"}


def related_words(wn, known: set[str]) -> dict[str, bool]:
    """Common words that name no class -> whether they are scene words (natural objects, places, weather,
    times of day by their main noun sense's lexicographer file)."""
    out: dict[str, bool] = {}
    for pos in ("n", "a", "s"):
        for s in wn.all_synsets(pos):
            for lem in s.lemmas():
                name = lem.name().lower().replace("_", " ")
                if lem.count() >= 1 and name not in known and name.replace(" ", "").isalpha() \
                        and len(name.split()) <= 2 and name not in STOP_WORDS and name not in COLOURS:
                    main = wn.synsets(name.replace(" ", "_"), "n")
                    out[name] = bool(main) and main[0].lexname() in SCENE_LEXNAMES
    return dict(sorted(out.items()))


def false_friend(word: str, lemmas: list[str]) -> bool:
    """The word is inside a label's name but not as its head: leaf/leafhopper, star/starfish, tree/tree frog."""
    for lem in lemmas:
        lem = lem.lower()
        if word in lem and lem.split()[-1] != word and not lem.endswith(" " + word):
            return True
    return False


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=OUT, help="where to write the tables (default: the package's data/)")
    out = ap.parse_args().out
    from pixseek.text.labels import imagenet_label_texts
    from pixseek.text.sentence import sentence_model

    wn = wordnet_reader()
    words, under = build_lexicon(wn)
    print(f"wordnet: {len(words)} lemmas reach ImageNet classes")
    model = sentence_model()
    texts, owner = imagenet_label_texts()
    label_vecs = model.embed(texts)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "labels-minilm.npz", vectors=label_vecs.astype(np.float16),
                        owner=np.asarray(owner, np.int16), texts=np.asarray(texts))
    scenes = sorted(under["geological_formation.n.01"])
    extra_scene = related_words(wn, set(words))
    extra = list(extra_scene)
    print(f"related: embedding {len(extra)} common nouns and adjectives "
          f"({sum(extra_scene.values())} scene words, matched to the {len(scenes)} geological-formation classes only)")
    q = model.embed(extra)
    sims = q @ label_vecs.T
    lemmas = [[x.strip() for x in row[1].split(",")] for row in imagenet_classes()]
    scene_mask = np.zeros(1000, bool)
    scene_mask[scenes] = True
    best = np.full((len(extra), 1000), -1.0, np.float32)
    for j in range(1000):
        cols = np.flatnonzero(np.asarray(owner) == j)
        best[:, j] = sims[:, cols].max(1)
    kept = 0
    for i, w in enumerate(extra):
        b = best[i].copy()
        top = None
        if extra_scene[w]:  # scene words: the geological-formation classes first (lake -> lakeside)
            bs = np.where(scene_mask, b, -1.0)
            if bs.max() >= SCENE_MIN:
                top = np.argsort(-bs)[:RELATED_TOP]
                b = bs
        if top is None:
            for j in np.argsort(-b)[:RELATED_TOP * 3]:
                if false_friend(w, lemmas[j]):
                    b[j] = -1.0
            top = np.argsort(-b)[:RELATED_TOP]
            if b[top[0]] < RELATED_MIN:
                continue
        best[i] = b
        p = np.exp((best[i, top] - best[i, top[0]]) / RELATED_T)
        p = p / p.max() * best[i, top[0]]
        keep = p >= 0.05
        words[w] = {"src": "related", "classes": [int(c) for c in top[keep]],
                    "weights": [round(float(x), 3) for x in p[keep]]}
        kept += 1
    print(f"related: {kept} kept (best cosine >= {RELATED_MIN})")
    exc = {}
    for line in (WORDNET / "noun.exc").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            exc[parts[0].replace("_", " ")] = parts[1].replace("_", " ")
    save_table(words, exc, out / "lexicon.npz")
    for p in sorted(out.iterdir()):
        print(f"{p}: {p.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
