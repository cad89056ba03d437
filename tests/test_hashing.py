"""Hash codes: LSH / ITQ keep neighbours; Hamming-ranking metrics match a plain reference loop; the
deep hashing head trains with pixseek.train's loop on real embeddings, exports a .hash with its model
id, and serves as the binary index's coder; the hashing CLI end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from conftest import run_cli
from pixseek.encoders import create_encoder
from pixseek.hashing import DeepHashCoder, code_metrics, create_coder, hamming_rank, read_hash_model
from pixseek.train.hashing import DeepHashRecipe, HashingLoss, train_deep_hash
from pixseek.train.losses import TrainLoss
from pixseek.index import create_index, load_index
from pixseek.metrics import retrieval_metrics
from pixseek.train.trainer import TrainConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clustered():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 64)).astype(np.float32)
    labels = rng.integers(0, 20, 2000)
    x = centres[labels] + 0.8 * rng.standard_normal((2000, 64)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


@pytest.fixture(scope="module")
def gallery_views(gallery):
    """Real embeddings: each sample photo, mirrored, and two crops; label = the source photo."""
    images, labels = [], []
    for i, path in enumerate(sorted(gallery.iterdir())):
        im = Image.open(path).convert("RGB")
        w, h = im.size
        images += [im, ImageOps.mirror(im), im.crop((0, 0, int(w * .8), int(h * .8))),
                   im.crop((int(w * .2), int(h * .2), w, h))]
        labels += [i] * 4
    encoder = create_encoder()
    return encoder.encode_images(images), np.array(labels), encoder.model_id


@pytest.mark.parametrize("coder", ["lsh", "itq"])
def test_codes_keep_planted_neighbours(coder, clustered):
    x, _ = clustered
    c = create_coder(coder, 64, 64)
    c.train(x)
    codes = c.encode(x)
    assert codes.shape == (2000, 8) and codes.dtype == np.uint8
    q = x[:50] + 0.02 * np.random.default_rng(1).standard_normal((50, 64)).astype(np.float32)
    d = hamming_rank(c.encode(q), codes)
    assert (d.argmin(axis=1) == np.arange(50)).mean() > 0.9


def test_code_metrics_match_a_plain_hamming_loop():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (60, 4), dtype=np.uint8)
    labels = rng.integers(0, 5, 60)
    aps = []
    for i in range(60):
        others = np.array([j for j in range(60) if j != i])
        d = np.array([bin(int.from_bytes(codes[i].tobytes(), "big") ^ int.from_bytes(codes[j].tobytes(), "big")).count("1")
                      for j in others])
        rel = labels[others[np.argsort(d, kind="stable")]] == labels[i]
        if rel.any():
            hits = np.cumsum(rel)
            aps.append(np.mean(hits[rel] / (np.flatnonzero(rel) + 1)))
    assert code_metrics(codes, labels, 32)["map"] == pytest.approx(np.mean(aps), abs=1e-9)


def test_quantization_loss_is_the_mean_squared_distance_to_the_signs():
    class Zero(TrainLoss):
        def forward(self, v, labels):
            return v.sum() * 0

    v = torch.tensor([[0.5, -0.9, 1.0], [-0.2, 0.1, -1.0]])
    got = HashingLoss(Zero(), weight=2.0)(v, torch.tensor([0, 1]))
    want = 2.0 * np.mean([(0.5 - 1) ** 2, (-0.9 + 1) ** 2, 0, (-0.2 + 1) ** 2, (0.1 - 1) ** 2, 0])
    assert float(got) == pytest.approx(want, rel=1e-6)


def test_itq_codes_of_real_embeddings_keep_the_float_map(gallery_views):
    x, labels, _ = gallery_views
    float_map = retrieval_metrics(x, labels)["map"]
    itq = create_coder("itq", x.shape[1], 16)
    itq.train(x)
    lsh = create_coder("lsh", x.shape[1], 16)
    itq_map = code_metrics(itq.encode(x), labels, 16)["map"]
    lsh_map = code_metrics(lsh.encode(x), labels, 16)["map"]
    assert float_map > 0.9
    assert itq_map >= 0.9 * float_map and itq_map > lsh_map + 0.1  # measured: 1.0 vs 0.73
    bits = np.unpackbits(itq.encode(x), axis=1).mean(axis=0)
    assert ((bits > 0.2) & (bits < 0.8)).all()  # ITQ centres the data: no constant bit


def test_deep_hash_trains_exports_and_serves_as_a_coder(gallery_views, tmp_path):
    x, labels, model_id = gallery_views
    recipe = DeepHashRecipe(bits=8, train=TrainConfig(epochs=15, patience=15), batch_size=32)
    coder, result = train_deep_hash(x, labels, model_id, recipe)
    itq = create_coder("itq", x.shape[1], 8)
    itq.train(x)
    deep_map = code_metrics(coder.encode(x), labels, 8)["map"]
    assert result.best_epoch > 0 and deep_map > result.history[0].metrics["map"]  # learned beyond its ITQ start
    assert deep_map >= code_metrics(itq.encode(x), labels, 8)["map"]
    path = coder.save(tmp_path / "g.hash")
    again = read_hash_model(path)
    assert isinstance(again, DeepHashCoder) and again.model_id == coder.model_id and again.base_model_id == model_id
    np.testing.assert_array_equal(again.encode(x), coder.encode(x))
    # the trained code as the binary index's coder: exact top-1 for every image, and a round trip
    index = create_index("binary", x.shape[1], coder=str(path), structure="hnsw", shortlist=8)
    index.train(x)
    index.add(x, np.arange(len(x)) + 100)
    assert index.bits == 8 and (index.search(x, 1)[1][:, 0] == np.arange(len(x)) + 100).all()
    index.save(tmp_path / "b.index")
    loaded = load_index(tmp_path / "b.index", "binary")
    assert loaded.coder.model_id == coder.model_id


def test_hash_train_cli(tmp_path, gallery):
    root = tmp_path / "labelled"
    for i, path in enumerate(sorted(gallery.iterdir())[:6]):
        (root / path.stem).mkdir(parents=True)
        im = Image.open(path).convert("RGB")
        for j, view in enumerate((im, ImageOps.mirror(im), im.rotate(8), ImageOps.grayscale(im).convert("RGB"))):
            view.save(root / path.stem / f"{j}.jpg")
    out = json.loads(run_cli("hash-train", root, "--out", tmp_path / "m.hash", "--bits", "16", "--epochs", "3",
                             "--json").stdout)
    assert out["bits"] == 16 and out["model_id"].startswith("deephash16-") and (tmp_path / "m.hash").exists()
    bad = run_cli("hash-train", root, "--out", tmp_path / "m.model", check=False)
    assert bad.returncode != 0 and ".hash" in bad.stdout + bad.stderr
