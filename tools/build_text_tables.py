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
  - scene and structure words (``SCENES`` + ``HABITAT``, by meaning): their landform / structure classes,
    the animals, plants and things typical of the place as weak evidence, and their nearest labels of any
    kind by the sentence model at RELATED_IN_SCENE; they replace the word's fallback or related entry (a
    WordNet word keeps its hierarchy's classes), with the colour that covers much of such a picture.
  - round 3, words whose own senses say too little: a common hierarchy word (main sense above a class,
    count >= 2) with < FEW_CLASSES classes also gets its nearest labels by the sentence model, among the
    classes in its main sense's lexicographer file, at RELATED_IN_FEW (flower: + hip, not perfume or
    flowerpot); a group noun (noun.group, not a social group) reaches its member meronyms' classes
    (people -> person: scuba diver, groom, ballplayer); a scene noun that matches no label takes, at
    GLOSS_SCENE_SCALE, the entry of the SCENES word its gloss names (star: "... at night" -> night).
  - round 5, kinds below a class: a noun whose main sense lies under an ImageNet class (kayak under canoe,
    jetliner under airliner, hot-air balloon under balloon) reaches that class, weight 1 (the nearest class
    ancestors), where the word had no entry or only a related one from the sentence model (pirogue: canoe,
    not ant); scene nouns keep theirs. Related labels of a plant, animal or food noun come only from the
    classes in its lexicographer file (tulip: not ram), of a person noun from no animal or plant (woman:
    not ladybug; soldier: military uniform).
    Words for the same scene as a SCENES word (``SCENE_ALIASES``: sunrise, dawn, dusk -> sunset; winter
    -> snow; moon -> night, scaled) take its entry.
  - round 7, a guess stays in the word's kind: the nearest-hypernym fallback (``ancestor_words``) keeps
    only classes in the word's own lexicographer file (leaf, noun.plant: acorn, buckeye, not the fruits
    pineapple and orange, noun.food; pebble: sandbar, not strawberry; island, swamp: their landforms). An
    activity (main noun sense in noun.act) has no false friends among artifacts: what it is played or done
    with is named after it (tennis: tennis ball, not the ping-pong ball; golf: golf ball; sewing: sewing
    machine), though not an animal (hunting: not the hunting spider). SCENES also holds leaf (foliage: an alias;
    green, what is seen among leaves) and chicken (ImageNet's hen and cock are any bird's).
  - ``noun_exc``: WordNet's irregular plurals (mice -> mouse), for the runtime's lemmatiser.
* ``labels-minilm.npz``: the label texts' sentence vectors (float16) with their owner class, so no label
  is embedded at query time (pixseek.text.labels loads it when the texts match).

Runtime needs neither nltk nor wordnet-base: only these files.
"""
from __future__ import annotations

import re
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
AFFINITY_TOP, AFFINITY_T = 5, 0.03
ANCESTOR_UP, ANCESTOR_SCALE, ANCESTOR_MIN = 3, 0.8, 0.3
RELATED_IN_SCENE = 0.5  # a scene word's nearest labels by the sentence model, beside its SCENES classes
# Round 3: words whose own senses say too little
FEW_CLASSES, RELATED_IN_FEW = 5, 0.5  # a hierarchy word with < FEW_CLASSES classes (flower: daisy, lady's
# slipper) also gets its nearest labels by the sentence model in its main sense's lexicographer file
# (noun.plant: hip, not perfume; false friends skipped: flowerpot, cauliflower), scaled
GLOSS_SCENE_SCALE = 0.6  # an unmatched scene word (star) whose gloss names a SCENES word (".. at night")
# Scene and structure words -> ImageNet classes (weight 1: the scene's own classes; 0.5: things seen
# there), and a colour that covers much of such a picture with its weight (sky: blue). Chosen by meaning;
# they replace whatever the hierarchy or the sentence model gives the word.
# Where a scene word's colour lies in the picture (pixseek.io.colours.REGIONS: the whole picture, its top
# or bottom third) and whether that colour there is evidence on its own ("alone": the word names the
# coloured surface itself -- blue at the top IS sky, green at the bottom grass -- so a photo whose
# classes say nothing of it can still match; bench/RESULTS.md, issue 14, layout). Unlisted: ("all", False).
COLOUR_PLACES = {
    "sky": ("top", True), "cloud": ("top", False),  # sunset: its glow is at the horizon, anywhere: unlisted
    "grass": ("bottom", True), "field": ("bottom", True), "meadow": ("bottom", True),
    "sand": ("bottom", True), "desert": ("bottom", True),
    "sea": ("bottom", True), "ocean": ("bottom", True), "lake": ("bottom", False), "water": ("bottom", False),
    "snow": ("all", True), "ice": ("all", True),
    "hill": ("bottom", False), "garden": ("bottom", False), "park": ("bottom", False),
}
SCENES = {
    "forest": ({"valley": 0.5, "lakeside": 0.5, "alp": 0.3, "cliff": 0.3}, ("green", 0.6)),
    "woods": ({"valley": 0.5, "lakeside": 0.5, "alp": 0.3}, ("green", 0.6)),
    "jungle": ({"valley": 0.5, "lakeside": 0.3}, ("green", 0.6)),
    "tree": ({"valley": 0.4, "lakeside": 0.4, "alp": 0.3}, ("green", 0.5)),
    "sky": ({"alp": 0.5, "volcano": 0.5, "promontory": 0.4, "seashore": 0.4, "airship": 0.5, "balloon": 0.5,
             "parachute": 0.5, "kite": 0.3, "airliner": 0.4, "castle": 0.3, "palace": 0.3, "mosque": 0.3,
             "stupa": 0.3, "triumphal arch": 0.3, "obelisk": 0.3, "beacon": 0.3}, ("blue", 0.7)),
    "cloud": ({"alp": 0.5, "volcano": 0.5, "promontory": 0.4, "seashore": 0.4}, ("blue", 0.5)),
    "beach": ({"seashore": 1.0, "sandbar": 1.0, "promontory": 0.5, "lakeside": 0.3}, ("blue", 0.4)),
    "coast": ({"seashore": 1.0, "promontory": 1.0, "cliff": 0.5, "sandbar": 0.5, "breakwater": 0.5}, ("blue", 0.4)),
    "sea": ({"seashore": 1.0, "promontory": 0.7, "sandbar": 0.7, "breakwater": 0.5, "coral reef": 0.5,
             "liner": 0.3, "schooner": 0.3, "catamaran": 0.3}, ("blue", 0.5)),
    "ocean": ({"seashore": 1.0, "promontory": 0.7, "sandbar": 0.7, "coral reef": 0.5, "liner": 0.3}, ("blue", 0.5)),
    "water": ({"lakeside": 0.7, "seashore": 0.7, "coral reef": 0.5, "dam": 0.5, "boathouse": 0.5, "pier": 0.5,
               "fountain": 0.5, "breakwater": 0.5, "canoe": 0.3, "scuba diver": 0.5}, ("blue", 0.5)),
    "underwater": ({"coral reef": 1.0, "scuba diver": 1.0, "goldfish": 0.5, "rock beauty": 0.5, "anemone fish": 0.5,
                    "lionfish": 0.5, "puffer": 0.5, "eel": 0.5, "gar": 0.5, "tench": 0.3, "sea anemone": 0.5,
                    "jellyfish": 0.5, "sea slug": 0.3}, ("blue", 0.4)),
    "lake": ({"lakeside": 1.0, "boathouse": 0.5, "canoe": 0.5, "dam": 0.3}, ("blue", 0.4)),
    "river": ({"valley": 0.5, "lakeside": 0.5, "dam": 0.5, "boathouse": 0.3, "canoe": 0.3, "viaduct": 0.3,
               "suspension bridge": 0.3, "steel arch bridge": 0.3}, None),
    "waterfall": ({"valley": 0.5, "cliff": 0.5, "lakeside": 0.3, "dam": 0.5}, None),
    "mountain": ({"alp": 1.0, "volcano": 1.0, "valley": 0.7, "cliff": 0.7, "promontory": 0.5}, None),
    "hill": ({"valley": 1.0, "alp": 0.7, "promontory": 0.5, "cliff": 0.5}, ("green", 0.4)),
    "valley": ({"valley": 1.0, "alp": 0.7, "cliff": 0.5, "lakeside": 0.5}, None),
    "canyon": ({"cliff": 1.0, "valley": 1.0, "promontory": 0.5, "alp": 0.5}, None),
    "cliff": ({"cliff": 1.0, "promontory": 0.7, "valley": 0.5}, None),
    "rock": ({"cliff": 0.7, "promontory": 0.5, "valley": 0.5, "alp": 0.5, "megalith": 0.5, "stone wall": 0.5}, None),
    "desert": ({"sandbar": 0.7, "Arabian camel": 0.7, "cliff": 0.5, "valley": 0.5, "volcano": 0.5,
                "promontory": 0.4, "seashore": 0.4}, ("yellow", 0.4)),
    "sand": ({"sandbar": 1.0, "seashore": 1.0, "Arabian camel": 0.5}, ("yellow", 0.4)),
    "snow": ({"alp": 0.7, "ski": 0.7, "snowmobile": 0.7, "dogsled": 0.7, "shovel": 0.3, "ice bear": 0.5,
              "Arctic fox": 0.5}, ("white", 0.6)),
    "ice": ({"alp": 0.7, "ice bear": 0.5, "snowmobile": 0.5, "ski": 0.5}, ("white", 0.5)),
    "grass": ({"hay": 0.5, "lawn mower": 0.5, "golf ball": 0.3}, ("green", 0.7)),
    "field": ({"hay": 0.7, "harvester": 0.5, "thresher": 0.5, "plow": 0.5, "tractor": 0.5}, ("green", 0.5)),
    "meadow": ({"hay": 0.7, "valley": 0.5}, ("green", 0.6)),
    "night": ({"pier": 0.3, "suspension bridge": 0.3, "traffic light": 0.3, "street sign": 0.2}, ("black", 0.7)),
    "sunset": ({"seashore": 0.5, "lakeside": 0.5, "promontory": 0.5, "alp": 0.3}, ("orange", 0.6)),
    "landscape": ({"alp": 1.0, "valley": 1.0, "lakeside": 0.7, "cliff": 0.7, "promontory": 0.7, "seashore": 0.7,
                   "volcano": 0.7}, None),
    "building": ({"castle": 1.0, "palace": 1.0, "mosque": 1.0, "monastery": 1.0, "church": 1.0, "dome": 0.7,
                  "bell cote": 0.7, "stupa": 0.7, "planetarium": 0.7, "library": 0.7, "cinema": 0.7, "barn": 0.7,
                  "boathouse": 0.7, "greenhouse": 0.7, "prison": 0.7, "restaurant": 0.5, "bakery": 0.5,
                  "toyshop": 0.5, "bookshop": 0.5, "grocery store": 0.5, "tobacco shop": 0.5, "water tower": 0.5,
                  "beacon": 0.5, "triumphal arch": 0.5, "home theater": 0.2}, None),
    "house": ({"boathouse": 0.7, "barn": 0.7, "mobile home": 0.7, "palace": 0.5, "castle": 0.3, "patio": 0.5,
               "picket fence": 0.3, "greenhouse": 0.3}, None),
    "tower": ({"bell cote": 1.0, "beacon": 1.0, "water tower": 1.0, "mosque": 0.7, "obelisk": 0.7, "castle": 0.7,
               "church": 0.5, "monastery": 0.5, "palace": 0.5, "stupa": 0.5, "pole": 0.3}, None),
    "skyscraper": ({"bell cote": 0.3, "water tower": 0.3, "palace": 0.3, "obelisk": 0.3}, ("blue", 0.3)),
    "monument": ({"triumphal arch": 1.0, "obelisk": 1.0, "megalith": 1.0, "pedestal": 0.7, "stupa": 0.7,
                  "palace": 0.7, "mosque": 0.7, "castle": 0.5, "monastery": 0.5, "church": 0.5, "dome": 0.5,
                  "brass": 0.3}, None),
    "castle": ({"castle": 1.0, "palace": 0.7, "monastery": 0.3}, None),
    "palace": ({"palace": 1.0, "castle": 0.7, "mosque": 0.5, "monastery": 0.5, "dome": 0.5}, None),
    "church": ({"church": 1.0, "monastery": 1.0, "bell cote": 1.0, "dome": 0.5, "altar": 0.5, "vault": 0.5,
                "palace": 0.3}, None),
    "temple": ({"stupa": 1.0, "mosque": 0.7, "monastery": 0.7, "church": 0.5, "palace": 0.5, "dome": 0.5,
                "altar": 0.3}, None),
    "pyramid": ({"megalith": 0.5, "volcano": 0.7, "cliff": 0.3, "sandbar": 0.3, "stupa": 0.3}, ("yellow", 0.3)),
    "statue": ({"pedestal": 1.0, "brass": 0.5, "obelisk": 0.5, "fountain": 0.5, "triumphal arch": 0.3}, None),
    "city": ({"palace": 0.5, "mosque": 0.5, "church": 0.5, "cab": 0.5, "streetcar": 0.5, "trolleybus": 0.5,
              "traffic light": 0.5, "street sign": 0.5, "parking meter": 0.3}, None),
    "street": ({"cab": 0.7, "streetcar": 0.7, "traffic light": 0.7, "street sign": 0.7, "parking meter": 0.5,
                "trolleybus": 0.5, "police van": 0.3}, None),
    "garden": ({"greenhouse": 0.5, "pot": 0.7, "daisy": 0.5, "lawn mower": 0.5, "picket fence": 0.5,
                "patio": 0.3}, ("green", 0.5)),
    "park": ({"park bench": 1.0, "fountain": 0.5, "picket fence": 0.3}, ("green", 0.4)),
    # structures and things ImageNet-1k has no class for (round 2): what they look like to the classifier
    "windmill": ({"pinwheel": 0.7, "crane": 0.3, "solar dish": 0.3, "beacon": 0.3, "pole": 0.3,
                  "water tower": 0.3, "barn": 0.3}, ("blue", 0.3)),
    "chicken": ({"hen": 1.0, "cock": 1.0}, None),  # ImageNet's hen and cock are any bird's (hen.n.02), not chicken's
    "leaf": ({"acorn": 0.5, "buckeye": 0.5, "leaf beetle": 0.3, "walking stick": 0.3, "mantis": 0.3,
              "lacewing": 0.3, "tree frog": 0.3}, ("green", 0.6)),  # what is seen among leaves; they are green
    "planet": ({"planetarium": 0.5, "space shuttle": 0.3, "ping-pong ball": 0.3, "balloon": 0.3,
                "croquet ball": 0.3, "golf ball": 0.3, "orange": 0.2}, ("black", 0.6)),
}
# Words for the same scene as a SCENES word (round 5, by meaning), its entry scaled: the time of day, the
# season, what is seen in such a sky. They replace what the word had ("sun" reached the fruit orange through
# natural_object, "sunrise" and "winter" were ignored).
SCENE_ALIASES = {"sunrise": ("sunset", 1.0), "dawn": ("sunset", 0.8), "dusk": ("sunset", 0.8),
                 "twilight": ("sunset", 0.8), "sun": ("sunset", 0.6), "winter": ("snow", 0.7),
                 "moon": ("night", 0.6), "seaside": ("beach", 1.0), "woodland": ("woods", 1.0),
                 "foliage": ("leaf", 1.0)}
# Animals, plants and things typical of a place (round 2): weak evidence for its scene word (a camel for
# "desert", fungi and forest primates for "forest"), by what lives or is found there (general knowledge,
# not the dev sets' pictures); merged into SCENES (the larger weight wins).
HABITAT = {
    "sky": {"airliner": 0.4, "warplane": 0.4, "wing": 0.3, "missile": 0.3, "projectile": 0.3,
            "space shuttle": 0.3},
    "desert": {"Arabian camel": 0.7, "meerkat": 0.5, "sidewinder": 0.4, "horned viper": 0.4, "scorpion": 0.3,
               "cliff dwelling": 0.5},
    "forest": {"agaric": 0.4, "bolete": 0.4, "stinkhorn": 0.4, "earthstar": 0.4, "hen-of-the-woods": 0.4,
               "coral fungus": 0.4, "mushroom": 0.3, "gyromitra": 0.4, "gibbon": 0.3, "siamang": 0.3,
               "orangutan": 0.3, "chimpanzee": 0.3, "gorilla": 0.3, "indri": 0.3, "Madagascar cat": 0.3,
               "howler monkey": 0.3, "spider monkey": 0.3, "capuchin": 0.3, "titi": 0.3, "squirrel monkey": 0.3,
               "marmoset": 0.3, "three-toed sloth": 0.3, "American black bear": 0.3, "brown bear": 0.3,
               "timber wolf": 0.3, "red fox": 0.3, "lynx": 0.3, "fox squirrel": 0.3, "wood rabbit": 0.3,
               "ruffed grouse": 0.3, "great grey owl": 0.3, "jay": 0.3, "tree frog": 0.3,
               "European fire salamander": 0.3, "spotted salamander": 0.3, "green mamba": 0.3, "vine snake": 0.3,
               "walking stick": 0.3},
    "tree": {"fox squirrel": 0.3, "koala": 0.4, "three-toed sloth": 0.4, "orangutan": 0.3, "gibbon": 0.3,
             "siamang": 0.3, "tree frog": 0.3, "vine snake": 0.3, "jay": 0.3, "Madagascar cat": 0.3, "indri": 0.3,
             "spider monkey": 0.3, "howler monkey": 0.3, "marmoset": 0.3, "green mamba": 0.3},
    "snow": {"snowplow": 0.7, "bobsled": 0.7, "white wolf": 0.3, "Eskimo dog": 0.3, "Siberian husky": 0.3,
             "ptarmigan": 0.3, "king penguin": 0.3, "mountain tent": 0.3},
    "river": {"paddle": 0.3, "otter": 0.4, "beaver": 0.4, "platypus": 0.3, "hippopotamus": 0.3,
              "African crocodile": 0.3, "American alligator": 0.3, "water ouzel": 0.4, "gondola": 0.3},
    "rock": {"bighorn": 0.3, "ibex": 0.3, "marmot": 0.3, "agama": 0.3, "cliff dwelling": 0.5,
             "geyser": 0.3},
    "canyon": {"cliff dwelling": 0.7, "bighorn": 0.3},
    "mountain": {"ibex": 0.4, "bighorn": 0.4, "mountain tent": 0.5, "ski": 0.3, "marmot": 0.3},
    "grass": {"ox": 0.3, "sorrel": 0.3, "ram": 0.3, "zebra": 0.3, "gazelle": 0.3, "impala": 0.3, "hartebeest": 0.3,
              "daisy": 0.3, "croquet ball": 0.3, "soccer ball": 0.2},
    "water": {"drake": 0.3, "red-breasted merganser": 0.3, "goose": 0.3, "black swan": 0.3, "pelican": 0.3,
              "otter": 0.3, "hippopotamus": 0.3, "speedboat": 0.4, "lifeboat": 0.3, "fireboat": 0.4,
              "gondola": 0.3, "paddle": 0.3, "wreck": 0.3, "snorkel": 0.3},
}



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


def affinity(word_vec: np.ndarray, classes: set[int], class_vecs: np.ndarray) -> float:
    """How well the word names a sense's classes: the mean cosine between the word and the label texts of
    the sense's best-matching classes (up to AFFINITY_TOP of them)."""
    sims = np.sort(class_vecs[sorted(classes)] @ word_vec)[::-1][:AFFINITY_TOP]
    return float(sims.mean())


def build_lexicon(wn, embed, class_vecs: np.ndarray) -> tuple[dict, dict]:
    """WordNet nouns that are (or are above) ImageNet classes -> the classes under them, the word's senses
    weighted by ``sqrt(prior) * exp((affinity - best affinity) / AFFINITY_T)``: the prior is WordNet's
    ``(count + 1) / rank``, the affinity how well the word names the sense's classes by the sentence model
    (``instrument``: the musical instrument, 6th sense with count 0, names violins and drums better than
    the 1st sense, a device, names syringes and odometers)."""
    classes = imagenet_classes()
    under: dict[str, set[int]] = {}  # synset name -> classes under it (or equal)
    for idx, (wnid, _, _) in enumerate(classes):
        syn = wn.synset_from_pos_and_offset("n", int(wnid[1:]))
        for s in {syn} | set(syn.closure(lambda x: x.hypernyms() + x.instance_hypernyms())):
            under.setdefault(s.name(), set()).add(idx)
    lemmas = sorted({lem.name().lower() for name in under for lem in wn.synset(name).lemmas()})
    vecs = dict(zip(lemmas, embed([w.replace("_", " ") for w in lemmas])))
    words: dict[str, dict] = {}
    for word in lemmas:
        senses = wn.synsets(word, "n")
        w_cls: dict[int, float] = {}
        weights = []
        for rank, s in enumerate(senses, 1):
            if s.name() not in under:
                continue
            lem = next((x for x in s.lemmas() if x.name().lower() == word), s.lemmas()[0])
            weights.append((sense_weight(lem, rank) ** 0.5, affinity(vecs[word], under[s.name()], class_vecs), s.name()))
        if not weights:
            continue
        best = max(a for _, a, _ in weights)
        weights = [(p * float(np.exp((a - best) / AFFINITY_T)), n) for p, a, n in weights]
        top = max(w for w, _ in weights)
        for w, name in weights:
            for c in under[name]:
                w_cls[c] = min(1.0, w_cls.get(c, 0.0) + w / top)
        w_cls = {c: w for c, w in w_cls.items() if w >= 0.01}
        key = word.replace("_", " ")
        words[key] = {"src": "wordnet", "senses": [n for _, n in sorted(weights, reverse=True)][:3],
                      "classes": sorted(w_cls), "weights": [round(w_cls[c], 3) for c in sorted(w_cls)]}
    return words, under


def ancestor_words(wn, known: set[str], under: dict[str, set[int]], embed, class_vecs: np.ndarray,
                   class_lex: np.ndarray) -> dict:
    """Common nouns whose main sense is a physical thing with no class under it (tree, monument, tower's
    kin): the classes under its nearest hypernym that has some (up to ANCESTOR_UP levels), each weighted by
    the softmax (temperature RELATED_T) of the word's cosine to the class's label texts, scaled by
    ANCESTOR_SCALE; only classes of the word's own kind (its sense's lexicographer file: leaf, noun.plant,
    not the fruit pineapple, noun.food; sculpture not the comic book) that the word names with cosine >=
    ANCESTOR_MIN are kept."""
    physical = wn.synset("physical_entity.n.01")
    out = {}
    cands = []
    for s in wn.all_synsets("n"):
        for lem in s.lemmas():
            name = lem.name().lower()
            if lem.count() < 2 or name.replace(" ", "_") in known or name.replace("_", " ") in known \
                    or not name.replace("_", "").isalpha() or name.count("_") > 1:
                continue
            main = wn.synsets(name, "n")
            if not main or main[0] != s or s.name() in under:
                continue
            if physical not in set(s.closure(lambda x: x.hypernyms() + x.instance_hypernyms())):
                continue
            cands.append((name, s))
    vecs = embed([n.replace("_", " ") for n, _ in cands]) if cands else []
    for (name, s), v in zip(cands, vecs):
        level, frontier = 0, [s]
        found: set[int] = set()
        while level < ANCESTOR_UP and not found:
            frontier = [h for x in frontier for h in x.hypernyms() + x.instance_hypernyms()]
            found = set().union(*(under.get(h.name(), set()) for h in frontier)) if frontier else set()
            level += 1
        found = {c for c in found if class_lex[c] == s.lexname()}
        if not found or len(found) > 300:
            continue
        cls = np.asarray(sorted(found))
        sims = class_vecs[cls] @ v
        keep = sims >= ANCESTOR_MIN
        if not keep.any():
            continue
        cls, sims = cls[keep], sims[keep]
        order = np.argsort(-sims)[:RELATED_TOP * 2]
        p = np.exp((sims[order] - sims[order[0]]) / RELATED_T) * ANCESTOR_SCALE
        ok = p >= 0.05
        out[name.replace("_", " ")] = {"src": "wordnet", "senses": [s.name()],
                                       "classes": [int(c) for c in cls[order][ok]],
                                       "weights": [round(float(x), 3) for x in p[ok]]}
    return out


SCENE_LEXNAMES = {"noun.object", "noun.location", "noun.phenomenon", "noun.time"}
LIVING_LEXNAMES = {"noun.animal", "noun.plant", "noun.food"}  # related labels stay within the word's own kind


def query_form(lemma: str) -> str:
    """A WordNet lemma as pixseek.text.lexicon reads a query ("hot-air_balloon" -> "hot air balloon")."""
    return " ".join(re.findall(r"[a-z0-9]+(?:'[a-z]+)?", lemma.lower().replace("-", " ").replace("_", " ")))


def below_class_words(wn, words: dict, class_syn: list) -> dict:
    """Nouns whose main sense lies under an ImageNet class (kayak: canoe) -> that class at weight 1 (all the
    nearest class ancestors, breadth first), for words with no entry or only a related (sentence-model)
    one; scene nouns (SCENE_LEXNAMES) keep what they have. 2,100+ words, most of them rare kinds."""
    index = {s.name(): j for j, s in enumerate(class_syn)}
    read = {query_form(k): k for k in words}  # "jack-o'-lantern" (a class) is not the fungus "jack-o-lantern"
    out = {}
    for s in wn.all_synsets("n"):
        if s.name() in index:
            continue
        level, frontier, found = 0, [s], []
        while frontier and not found and level < 12:
            frontier = sorted({h for x in frontier for h in x.hypernyms() + x.instance_hypernyms()}, key=lambda x: x.name())
            found = [index[h.name()] for h in frontier if h.name() in index]
            level += 1
        if not found:
            continue
        for lem in s.lemmas():
            main = wn.synsets(lem.name(), "n")
            key = query_form(lem.name())
            if not main or main[0] != s or not key or key in out or s.lexname() in SCENE_LEXNAMES:
                continue
            if key in read and words[read[key]]["src"] != "related":
                continue
            out[key] = {"src": "wordnet", "senses": [s.name()], "classes": sorted(set(found)),
                        "weights": [1.0] * len(set(found))}
    return out


def group_words(wn, known: set[str], under: dict[str, set[int]]) -> dict:
    """Common nouns whose main sense is a group (noun.group) with no class of its own but whose members
    have classes (people: its member meronym person -> scuba diver, groom, ballplayer; herd: cattle, sheep):
    the members' classes, weight 1 (the group looks like its members). Social groups (association,
    peer group) are skipped: their members are roles, not what a picture of them shows."""
    out = {}
    social = wn.synset("social_group.n.01")  # organisations: their members are roles (associate), not looks
    for s in wn.all_synsets("n"):
        if s.lexname() != "noun.group" or s.name() in under \
                or social in set(s.closure(lambda x: x.hypernyms() + x.instance_hypernyms())):
            continue
        members = sorted((m for m in s.member_meronyms() if m.name() in under), key=lambda m: m.name())
        if not members:
            continue
        for lem in s.lemmas():
            name = lem.name().lower()
            key = name.replace("_", " ")
            if lem.count() < 1 or key in known or key in out or not name.replace("_", "").isalpha() \
                    or name.count("_") > 1:
                continue
            main = wn.synsets(name, "n")
            if not main or main[0] != s:
                continue
            cls = sorted(set().union(*(under[m.name()] for m in members)))
            if len(cls) > 300:
                continue
            out[key] = {"src": "wordnet", "senses": [s.name()] + [m.name() for m in members][:2],
                        "classes": [int(c) for c in cls], "weights": [1.0] * len(cls)}
    return out


def gloss_scene(wn, word: str) -> str | None:
    """The first SCENES word named in the gloss of one of the word's scene senses (star.n.03 "any
    celestial body visible (as a point of light) from the Earth at night" -> night), or None."""
    for s in wn.synsets(word.replace(" ", "_"), "n"):
        lem = next((x for x in s.lemmas() if x.name().lower() == word.replace(" ", "_")), None)
        if s.lexname() not in SCENE_LEXNAMES or s.instance_hypernyms() or lem is None or lem.count() < 1:
            continue  # a common sense of the word, not a named place (Albany) or a rare reading
        for tok in re.findall(r"[a-z]+", s.definition().lower()):
            if tok in SCENES and tok != word:
                return tok
    return None


def scaled_entry(entry: dict, word: str, scale: float) -> dict:
    """Another word's entry (a SCENES word's) with its class and colour weights scaled: what a word that
    means the same scene, more loosely, gets (sense ``~word``)."""
    out = {"src": "related", "senses": [f"~{word}"], "classes": entry["classes"],
           "weights": [round(x * scale, 3) for x in entry["weights"]]}
    if entry.get("colour"):
        out["colour"], out["colour_weight"] = entry["colour"], round(entry["colour_weight"] * scale, 3)
        out["colour_region"], out["colour_alone"] = entry["colour_region"], entry["colour_alone"]
    return out


def scene_synonyms(wn, words: dict[str, dict], skip: set[str]) -> dict[str, dict]:
    """Words that share a SCENES word's main sense (wood and woods: forest.n.01; stone: rock.n.01; nighttime,
    sundown, metropolis), the word's own lemma used in it (count >= 1): that word's entry, scaled by the
    sense's prior against the word's first sense, ``sqrt(p(sense) / p(first))`` with ``p = (count + 1) / rank``
    (1 for a word's first sense; wood: 0.61). As for a SCENES word, a related entry (the sentence model's
    guess: nighttime -> night snake) is replaced and a hierarchy's classes stay, scaled by the word's best
    class-reaching sense against its first when that reaches none (wood's woodwinds: 0.10). SCENES and
    alias words keep their own entries."""
    out: dict[str, dict] = {}
    for sc in sorted(w for w in SCENES if w in words):
        main = wn.synsets(sc.replace(" ", "_"), "n")
        if not main:
            continue
        for lem in main[0].lemmas():
            w = lem.name().lower().replace("_", " ")
            if w in skip or w == sc or lem.count() < 1 or w in out:
                continue
            senses = wn.synsets(lem.name(), "n")

            def prior(s):  # the hierarchy's sense prior (sense_weight) of the word's own lemma in ``s``
                own = next(x for x in s.lemmas() if x.name().lower() == lem.name().lower())
                return sense_weight(own, senses.index(s) + 1)

            scale = (prior(main[0]) / prior(senses[0])) ** 0.5
            entry = scaled_entry(words[sc], sc, min(1.0, scale))
            have = words.get(w)
            if have and have["src"] == "wordnet":  # as for a SCENES word: a hierarchy's classes stay, a guess goes
                reach = [x for x in senses if x.name() in set(have.get("senses", []))]
                keep = 1.0 if not reach or senses[0] in reach else min(1.0, (max(map(prior, reach)) / prior(senses[0])) ** 0.5)
                own = {c: x * keep for c, x in zip(have["classes"], have["weights"])}
                for c, x in zip(entry["classes"], entry["weights"]):
                    own[c] = max(own.get(c, 0.0), x)
                pairs = sorted(own.items())
                entry = dict(entry, src=have["src"], classes=[c for c, _ in pairs], weights=[round(x, 3) for _, x in pairs])
                if have.get("colour") and not entry.get("colour"):
                    entry.update({k: have[k] for k in ("colour", "colour_weight", "colour_region", "colour_alone")})
            out[w] = entry
    return out


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
    model = sentence_model()
    texts, owner = imagenet_label_texts()
    label_vecs = model.embed(texts)
    owner_arr = np.asarray(owner)
    class_vecs = np.stack([label_vecs[owner_arr == j].mean(0) for j in range(1000)])  # one vector a class
    class_vecs /= np.linalg.norm(class_vecs, axis=1, keepdims=True)
    class_syn = [wn.synset_from_pos_and_offset("n", int(row[0][1:])) for row in imagenet_classes()]
    class_lex = np.asarray([x.lexname() for x in class_syn])  # each class's lexicographer file (noun.plant)
    words, under = build_lexicon(wn, model.embed, class_vecs)
    print(f"wordnet: {len(words)} lemmas reach ImageNet classes")
    anc = ancestor_words(wn, set(words), under, model.embed, class_vecs, class_lex)
    words.update(anc)
    print(f"ancestors: {len(anc)} nouns with no class of their own reach their nearest hypernym's classes")
    grp = group_words(wn, set(words), under)
    words.update(grp)
    print(f"groups: {len(grp)} group nouns reach their members' classes (people -> person): "
          f"{', '.join(sorted(grp)[:12])}...")
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

    def related_top(w: str, b: np.ndarray) -> np.ndarray | None:
        """The RELATED_TOP best classes of ``b`` for ``w`` (false friends set to -1 in ``b``), or None
        when the best is under RELATED_MIN. For an activity (main noun sense in noun.act) a thing named
        after it is no false friend: what it is played with (tennis: tennis ball; golf: golf ball), not an
        animal (hunting: not the hunting spider)."""
        main = wn.synsets(w.replace(" ", "_"), "n")
        activity = bool(main) and main[0].lexname() == "noun.act"
        for j in np.argsort(-b)[:RELATED_TOP * 3]:
            if not (activity and class_lex[j] == "noun.artifact") and false_friend(w, lemmas[j]):
                b[j] = -1.0
        top = np.argsort(-b)[:RELATED_TOP]
        return top if b[top[0]] >= RELATED_MIN else None

    def own_kind(w: str, b: np.ndarray) -> np.ndarray:
        """A plant, animal or food noun's label cosines, kept only for classes of its own kind (tulip: no ram);
        a person noun's, for classes that are not animals or plants (soldier: military uniform; king: no
        monarch butterfly)."""
        main = wn.synsets(w.replace(" ", "_"), "n")
        if main and main[0].lexname() in LIVING_LEXNAMES:
            return np.where(class_lex == main[0].lexname(), b, -1.0)
        if main and main[0].lexname() == "noun.person":  # what a person wears or uses, not an animal or plant
            return np.where(np.isin(class_lex, ["noun.animal", "noun.plant"]), -1.0, b)  # (woman: not ladybug)
        return b

    general = {}  # scene words: their nearest labels of any kind, not only landforms (weight RELATED_IN_SCENE)
    for i, w in enumerate(extra):
        if w not in SCENES:
            continue
        b = best[i].copy()
        top = related_top(w, b)
        if top is not None:
            p = np.exp((b[top] - b[top[0]]) / RELATED_T) * RELATED_IN_SCENE
            general[w] = {int(c): round(float(x), 3) for c, x in zip(top, p) if x >= 0.05}
    for i, w in enumerate(extra):
        b = best[i].copy()
        top = None
        if extra_scene[w]:  # scene words: the geological-formation classes first (lake -> lakeside)
            bs = np.where(scene_mask, b, -1.0)
            if bs.max() >= SCENE_MIN:
                top = np.argsort(-bs)[:RELATED_TOP]
                b = bs
        if top is None:
            b = own_kind(w, b)
            top = related_top(w, b)
            if top is None:
                continue
        best[i] = b
        p = np.exp((best[i, top] - best[i, top[0]]) / RELATED_T)
        p = p / p.max() * best[i, top[0]]
        keep = p >= 0.05
        words[w] = {"src": "related", "classes": [int(c) for c in top[keep]],
                    "weights": [round(float(x), 3) for x in p[keep]]}
        kept += 1
    print(f"related: {kept} kept (best cosine >= {RELATED_MIN})")
    below = below_class_words(wn, words, class_syn)
    read = {query_form(k): k for k in words}
    replaced = [read[w] for w in below if w in read]
    for w in replaced:
        del words[w]
    words.update(below)
    print(f"below a class: {len(below)} nouns under an ImageNet class reach it ({len(replaced)} replace a related entry: "
          f"{', '.join(sorted(w for w in below if ' ' not in w)[:20])}...)")
    # hierarchy words with few classes (flower: daisy, yellow lady's slipper) that name no class themselves:
    # also their nearest labels by the sentence model (false friends skipped), scaled by RELATED_IN_FEW
    class_lemmas = {x.lower() for row in lemmas for x in row}
    class_syns = {x.name() for x in class_syn}

    def common_hypernym_word(w: str) -> bool:  # main sense above (not at) a class, used often (count >= 2)
        main = wn.synsets(w.replace(" ", "_"), "n")
        lem = next((x for x in main[0].lemmas() if x.name().lower() == w.replace(" ", "_")), None) if main else None
        return bool(main) and main[0].name() not in class_syns and lem is not None and lem.count() >= 2

    few = [w for w, e in words.items() if e["src"] == "wordnet" and len(e["classes"]) < FEW_CLASSES
           and w not in class_lemmas and w not in SCENES and w not in below and common_hypernym_word(w)]
    fsims = model.embed(few) @ label_vecs.T if few else np.zeros((0, len(texts)))
    fbest = np.stack([fsims[:, owner_arr == j].max(1) for j in range(1000)], 1) if few else fsims
    widened = 0
    for i, w in enumerate(few):
        # only labels in the main sense's lexicographer file (flower, noun.plant: hip, not perfume)
        main = words[w]["senses"][0] if words[w].get("senses") else wn.synsets(w.replace(" ", "_"), "n")[0].name()
        b = np.where(class_lex == wn.synset(main).lexname(), fbest[i], -1.0)  # the entry's weightiest sense
        top = related_top(w, b)
        if top is None:
            continue
        p = np.exp((b[top] - b[top[0]]) / RELATED_T) * RELATED_IN_FEW
        own = dict(zip(words[w]["classes"], words[w]["weights"]))
        for c, x in zip(top, p):
            if x >= 0.05:
                own[int(c)] = max(own.get(int(c), 0.0), round(float(x), 3))
        pairs = sorted(own.items())
        words[w] = dict(words[w], classes=[c for c, _ in pairs], weights=[x for _, x in pairs])
        widened += 1
    print(f"few: {widened} of {len(few)} common hierarchy words with < {FEW_CLASSES} classes also reach their "
          f"nearest labels: {', '.join(few[:40])}...")
    index = {row[1].split(",")[0].strip(): j for j, row in enumerate(imagenet_classes())}
    index.update({lem.strip(): j for j, row in enumerate(imagenet_classes()) for lem in row[1].split(",")
                  if lem.strip() not in index})
    for w, (cls, colour) in SCENES.items():
        cls = dict(cls)
        for c, x in HABITAT.get(w, {}).items():
            cls[c] = max(cls.get(c, 0.0), x)
        missing = [c for c in cls if c not in index]
        if missing:
            raise SystemExit(f"SCENES[{w!r}]: no ImageNet class named {missing}")
        hierarchy = words.get(w, {}).get("src") == "wordnet" and w not in anc
        own = dict(zip(words[w]["classes"], words[w]["weights"])) if hierarchy else {}
        for c, x in cls.items():  # a WordNet word (building, tower) keeps its hierarchy's classes too; the
            # nearest-hypernym fallback (tree -> daisy) and related labels are replaced
            own[index[c]] = max(own.get(index[c], 0.0), float(x))
        if w in general:  # the sentence model's nearest labels of any kind (desert -> camel), weakly
            for c, x in general[w].items():
                own[c] = max(own.get(c, 0.0), x)
        pairs = sorted(own.items())
        words[w] = {"src": "wordnet" if hierarchy else "related",
                    "senses": words.get(w, {}).get("senses", []),
                    "classes": [c for c, _ in pairs], "weights": [round(x, 3) for _, x in pairs]}
        if colour:
            words[w]["colour"], words[w]["colour_weight"] = colour
            words[w]["colour_region"], words[w]["colour_alone"] = COLOUR_PLACES.get(w, ("all", False))
    print(f"scenes: {len(SCENES)} scene and structure words from the SCENES table (+ HABITAT; "
          f"{len(general)} with their nearest labels of any kind: "
          f"{', '.join(f'{w}: {len(c)}' for w, c in sorted(general.items()))})")
    for w, (target, scale) in SCENE_ALIASES.items():
        words[w] = scaled_entry(words[target], target, scale)
    print(f"aliases: {len(SCENE_ALIASES)} words take a SCENES entry, scaled: "
          + ", ".join(f"{w}: {t} x {x}" for w, (t, x) in SCENE_ALIASES.items()))
    syn = scene_synonyms(wn, words, set(SCENES) | set(SCENE_ALIASES))
    words.update(syn)
    print(f"synonyms: {len(syn)} words one of whose senses is a SCENES word's main sense take its entry: "
          + ", ".join(f"{w}: {e['senses'][0][1:]}" for w, e in sorted(syn.items())))
    glossed = {}
    for w, is_scene in extra_scene.items():  # unmatched scene words whose gloss names a scene (star: night)
        if not is_scene or w in words:
            continue
        sc = gloss_scene(wn, w)
        if sc is None:
            continue
        glossed[w] = scaled_entry(words[sc], sc, GLOSS_SCENE_SCALE)
    words.update(glossed)
    print(f"glossed: {len(glossed)} unmatched scene words take the scene their gloss names "
          "(" + ", ".join(f"{w}: {g['senses'][0][1:]}" for w, g in sorted(glossed.items())[:15]) + "...)")
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
