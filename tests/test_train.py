"""Training: metric learning lowers the loss and raises mAP@R on a tiny real set; the .model artefact
loads through the registry and reproduces the trained head; catalogs refuse another model; tag-train +
tags + index + search --tag round trip through the real CLI."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from train_fixtures import crops_folder

from pixseek.encoders import create_encoder
from pixseek.errors import ModelMismatchError, TrainedModelError
from pixseek import open_library
from pixseek.search.evaluate import evaluate_folder
from pixseek.train import EmbeddingRecipe, TaggerRecipe, train_embedding, train_tagger
from pixseek.train.data import FeatureSpec, read_image_folder, split_by_class, split_within_classes
from pixseek.train.heads import HeadConfig, ProjectionHead
from pixseek.train.losses import LOSSES, LossConfig, create_loss
from pixseek.train.trainer import TrainConfig, plot_history

pytestmark = pytest.mark.integration

FAST = TrainConfig(epochs=12, patience=20, lr=1e-3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return crops_folder(tmp_path_factory.mktemp("tiny") / "crops")


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "crops.model"
    recipe = EmbeddingRecipe(train=FAST, batch_size=32, head=HeadConfig(out_dim=64))
    return train_embedding(tiny, out, recipe)


@pytest.fixture(scope="module")
def tagger(tiny, tmp_path_factory):
    return train_tagger(tiny, tmp_path_factory.mktemp("models") / "tagger.model",
                        TaggerRecipe(train=TrainConfig(epochs=15, patience=20)))


def test_training_lowers_loss_and_raises_map_at_r(tiny, trained, tmp_path):
    losses = [r.loss for r in trained.result.history[1:]]
    assert len(losses) == FAST.epochs
    assert np.mean(losses[-3:]) < 0.5 * losses[0], losses
    base = evaluate_folder(tiny, create_encoder())
    after = evaluate_folder(tiny, create_encoder(trained.path))  # the saved artefact, through the registry
    assert after["model_id"] == trained.manifest["model_id"] != base["model_id"]
    assert after["map_at_r"] > base["map_at_r"] + 0.05, (base["map_at_r"], after["map_at_r"])
    assert trained.summary["trained_val"]["map_at_r"] >= trained.summary["base_val"]["map_at_r"]
    png = plot_history(trained.result, tmp_path / "curve.png")
    assert Image.open(png).size[0] > 300


def test_a_run_is_reproducible_whatever_ran_before(tiny, trained, tmp_path):
    # the head's initial weights and the m-per-class sampler (numpy's global state, in
    # pytorch-metric-learning) once drew from process-wide generators: CI trained a different model
    np.random.seed(12345)
    torch.manual_seed(777)
    again = train_embedding(tiny, tmp_path / "again.model", EmbeddingRecipe(train=FAST, batch_size=32,
                                                                            head=HeadConfig(out_dim=64)))
    assert [r.loss for r in again.result.history[1:]] == [r.loss for r in trained.result.history[1:]]
    assert again.result.best_epoch == trained.result.best_epoch > 0


def test_the_head_starts_at_the_features_principal_axes(tiny):
    # epoch 0 must rank like the pretrained embedding reduced by PCA, not like a random projection
    from pixseek.train.data import extract_features
    from pixseek.train.heads import pca_init

    x = extract_features(create_encoder(), read_image_folder(tiny), FeatureSpec(views=1)).vectors[0]
    head = ProjectionHead(x.shape[1], HeadConfig(out_dim=16))
    pca_init(head, x)
    with torch.no_grad():
        out = head(torch.from_numpy(x)).numpy()
    centred = x - x.mean(0)
    pcs = centred @ np.linalg.svd(centred, full_matrices=False)[2][:16].T
    pcs /= np.linalg.norm(pcs, axis=1, keepdims=True)
    np.testing.assert_allclose(out @ out.T, pcs @ pcs.T, atol=1e-4)


def test_saved_model_loads_and_reproduces_the_head(tiny, trained):
    enc = create_encoder(trained.path)
    again = create_encoder(str(trained.path))
    assert enc.model_id == again.model_id and enc.embed_dim == 64
    images = [Image.open(p).convert("RGB") for p in sorted(tiny.glob("*/0.png"))]
    vecs = enc.encode_images(images)
    np.testing.assert_allclose(vecs, again.encode_images(images), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    # the ONNX head in the file computes what the torch head computed (weights kept in head.npz too)
    with zipfile.ZipFile(trained.path) as zf:
        weights = np.load(zf.open("head.npz"))
        head = ProjectionHead(1280, HeadConfig(**trained.manifest["head"]))
        head.load_state_dict({k: torch.from_numpy(weights[k]) for k in weights.files})
    base = create_encoder().encode_images(images)
    with torch.no_grad():
        expected = head.eval()(torch.from_numpy(base)).numpy()
    np.testing.assert_allclose(vecs, expected, atol=1e-5)
    assert enc.labels == create_encoder().labels  # ImageNet probabilities pass through an embedding model


def test_catalog_built_with_one_model_refuses_another(tiny, trained, tmp_path):
    db = tmp_path / "lib.db"
    run_cli("index", tiny, "--db", db, "--model", trained.path)
    query = next(tiny.glob("coffee/*.png"))
    with pytest.raises(ModelMismatchError, match="catalog was built with model"):
        open_library(db, model="efficientnet_lite0")
    other = train_embedding(tiny, tmp_path / "other.model",
                            EmbeddingRecipe(train=TrainConfig(epochs=1), batch_size=32, head=HeadConfig(out_dim=64),
                                            loss="triplet"))
    assert other.manifest["model_id"] != trained.manifest["model_id"]
    proc = run_cli("search", query, "--db", db, "--model", other.path, check=False)
    assert proc.returncode == 2 and "catalog was built with model" in proc.stderr
    hits = json.loads(run_cli("search", query, "--db", db, "-k", "3", "--json").stdout)["results"][0]["hits"]
    assert [h["path"].split("/")[-2] for h in hits] == ["coffee"] * 3  # the catalog's own model by default


def test_cli_train_eval_and_tag_train_round_trip(tiny, tmp_path):
    """The whole round trip through the CLI, training included (system tier: two training processes);
    test_cli_eval_tags_and_tag_search_with_trained_models is its fast-tier part, on in-process models."""
    model = tmp_path / "cli.model"
    res = json.loads(run_cli("train", tiny, "--out", model, "--epochs", "3", "--dim", "32", "--loss", "triplet",
                             "--json").stdout)
    assert model.exists() and (tmp_path / "cli.png").exists() and res["model_id"].startswith("efficientnet_lite0/")
    tagger = tmp_path / "tagger.model"
    run_cli("tag-train", tiny, "--out", tagger, "--epochs", "15", "--json")
    check_cli_with_models(tiny, tmp_path, model, res["model_id"], tagger)


def test_cli_eval_tags_and_tag_search_with_trained_models(tiny, trained, tagger, tmp_path):
    check_cli_with_models(tiny, tmp_path, trained.path, trained.manifest["model_id"], tagger.path)


def check_cli_with_models(tiny, tmp_path, model, model_id, tagger):
    """eval with an embedding model; tags, index and search --tag with a tagger; all through the CLI."""
    ev = json.loads(run_cli("eval", tiny, "--model", model, "--json").stdout)
    assert ev["model_id"] == model_id and ev["images"] == 64
    probe = tiny / "chelsea" / "3.png"
    tags = json.loads(run_cli("tags", probe, "--model", tagger, "-k", "2", "--json").stdout)["results"][0]["labels"]
    assert [t["group"] for t in tags] == ["user", "user", "base", "base"]
    assert tags[0]["label"] == "chelsea" and tags[0]["prob"] > 0.5
    db = tmp_path / "tagged.db"
    run_cli("index", tiny, "--db", db, "--model", tagger)
    hits = json.loads(run_cli("search", probe, "--db", db, "--tag", "Chelsea", "-k", "20", "--json").stdout)
    paths = [h["path"] for h in hits["results"][0]["hits"]]
    chelsea = {str(p) for p in (tiny / "chelsea").glob("*.png")}
    assert chelsea <= set(paths) and len(paths) < 20  # tagged "chelsea" (p >= 0.15) at indexing; others filtered out
    unknown = run_cli("search", probe, "--db", db, "--tag", "no-such-tag", "--json", check=False)
    assert unknown.returncode == 2 and "no-such-tag" in unknown.stderr  # an unknown tag is an error, not an empty answer


def test_tagger_probabilities_are_calibrated_and_grouped(tiny, tagger):
    t = tagger
    enc = create_encoder(t.path)
    n = len(t.manifest["labels"])
    assert enc.label_groups() == [("user", 0, n), ("base", n, n + 1000)]
    emb = enc.embed_pixels(np.stack([enc.transform()(Image.open(p).convert("RGB"))
                                     for p in sorted(tiny.glob("*/1.png"))]))
    np.testing.assert_allclose(emb.probs[:, :n].sum(1), 1, atol=1e-4)
    np.testing.assert_allclose(emb.probs[:, n:].sum(1), 1, atol=1e-3)
    assert t.summary["temperature"] > 0
    assert t.summary["val_calibrated"]["nll"] <= t.summary["val_uncalibrated"]["nll"] + 1e-6


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_gives_a_finite_gradient(name):
    torch.manual_seed(0)
    head = ProjectionHead(16, HeadConfig(out_dim=8))
    loss = create_loss(name, LossConfig(embed_dim=8, n_classes=4))
    x, y = torch.randn(16, 16), torch.arange(4).repeat_interleave(4)
    value = loss(head(x), y)
    value.backward()
    assert torch.isfinite(value) and head.linear.weight.grad is not None


def test_splits_are_disjoint_and_stratified(tiny):
    data = read_image_folder(tiny)
    tr, va = split_by_class(data.labels, 0.25)
    assert not set(data.labels[tr]) & set(data.labels[va]) and len(set(data.labels[va])) == 2
    tr, va = split_within_classes(data.labels, 0.25)
    assert set(data.labels[tr]) == set(data.labels[va]) == set(data.labels)
    assert not set(tr) & set(va) and len(tr) + len(va) == len(data)


def test_bad_model_files_name_the_file(tmp_path):
    bad = tmp_path / "broken.model"
    bad.write_bytes(b"not a zip")
    with pytest.raises(TrainedModelError, match="broken.model: not a pixseek model file"):
        create_encoder(bad)
    with zipfile.ZipFile(tmp_path / "future.model", "w") as zf:
        zf.writestr("model.json", json.dumps({"format": "pixseek-model/99", "kind": "embedding"}))
    with pytest.raises(TrainedModelError, match="unknown model format"):
        create_encoder(tmp_path / "future.model")


def test_feature_cache_is_reused(tiny):
    from pixseek.train.data import extract_features

    enc = create_encoder()
    data = read_image_folder(tiny)
    first = extract_features(enc, data, FeatureSpec(views=2, seed=7))
    again = extract_features(enc, data, FeatureSpec(views=2, seed=7))
    assert first.vectors.shape == (2, 64, 1280)
    np.testing.assert_array_equal(first.vectors, again.vectors)
    assert not np.allclose(first.vectors[0], first.vectors[1])  # view 1 is augmented


def test_last_block_finetune_ships_its_backbone(tmp_path):
    # each epoch runs the whole backbone in PyTorch: 4 classes x 6 crops and one epoch (a quarter of the
    # images and half the epochs of the shared set) still move the block's weights and ship them
    small = crops_folder(tmp_path / "small", classes=4, per_class=6)
    t = train_embedding(small, tmp_path / "ft.model", EmbeddingRecipe(finetune="last-block", batch_size=32,
                                                                       train=TrainConfig(epochs=1, restore_best=False)))
    with zipfile.ZipFile(t.path) as zf:
        assert "backbone.onnx" in zf.namelist()
    enc, base = create_encoder(t.path), create_encoder()
    pixels = np.stack([enc.transform()(Image.open(p).convert("RGB")) for p in sorted(small.glob("*/2.png"))])
    assert not np.allclose(enc.feature_maps(pixels), base.feature_maps(pixels), atol=1e-4)  # trained weights
    vecs = enc.embed_pixels(pixels).vectors
    assert vecs.shape == (4, HeadConfig().out_dim) and np.isfinite(vecs).all()
