"""Encoder contract over the registry, and ONNX agreeing with PyTorch."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from pixseek.encoders import Embedding, Encoder, EncoderConfig, create_encoder, list_encoders
from pixseek.encoders.base import l2_normalize
from pixseek.encoders.efficientnet import features_and_logits_module, imagenet_labels, load_torch_model
from pixseek.errors import EncoderUnavailableError, UnknownEncoderError
from pixseek.io import load_image
from pixseek.preprocess import PreprocessConfig, build_transform

pytestmark = pytest.mark.integration

OFFLINE = [s.name for s in list_encoders() if s.offline]


@pytest.fixture(scope="module")
def photos(gallery):
    return [load_image(gallery / n) for n in ("chelsea.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg")]


@pytest.mark.parametrize("name", OFFLINE)
def test_contract_l2_normalised_float32(name, photos):
    enc = create_encoder(name)
    vecs = enc.encode_images(photos)
    assert vecs.dtype == np.float32 and vecs.shape == (4, enc.embed_dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert enc.model_id and enc.preprocess.input_size > 0
    # different photos are different vectors; the same photo is the same vector
    sims = vecs @ vecs.T
    assert sims[np.triu_indices(4, 1)].max() < 0.9
    np.testing.assert_allclose(enc.encode_images(photos[:1]), vecs[:1], atol=1e-5)


def test_onnx_matches_pytorch(photos):
    import torch

    enc = create_encoder("efficientnet_lite0")
    pixels = np.stack([build_transform(enc.preprocess)(im) for im in photos])
    fmap, logits = enc.forward(pixels)
    with torch.no_grad():
        tf, tl = features_and_logits_module(load_torch_model())(torch.from_numpy(pixels))
    assert np.abs(fmap - tf.numpy()).max() < 1e-3
    assert np.abs(logits - tl.numpy()).max() < 1e-3
    assert (logits.argmax(1) == tl.numpy().argmax(1)).all()


def test_pretrained_labels_are_right(photos):
    enc = create_encoder("efficientnet_lite0")
    probs = enc.embed_pixels(np.stack([enc.transform()(im) for im in photos[:2]])).probs
    labels = imagenet_labels()
    assert len(labels) == 1000
    cat_top3 = {labels[i] for i in np.argsort(-probs[0])[:3]}
    assert cat_top3 & {"Egyptian cat", "tabby", "tiger cat"}
    assert labels[int(probs[1].argmax())] == "espresso"


def test_int8_stays_close_to_fp32(photos):
    """int8 vectors drift (cosine ~0.85 to fp32 on photos) but keep the geometry that matters:
    each photo's int8 vector is nearest to its own fp32 vector, and the labels agree."""
    fp32, int8 = create_encoder("efficientnet_lite0"), create_encoder("efficientnet_lite0_int8")
    pixels = np.stack([fp32.transform()(im) for im in photos])
    a, b = fp32.embed_pixels(pixels), int8.embed_pixels(pixels)
    cos = b.vectors @ a.vectors.T
    assert (cos.argmax(axis=1) == np.arange(len(photos))).all()
    assert np.diag(cos).mean() > 0.75
    assert (a.probs.argmax(1)[:2] == b.probs.argmax(1)[:2]).all()


def test_unknown_encoder_is_a_clear_error():
    with pytest.raises(UnknownEncoderError, match="efficientnet_lite0"):
        create_encoder("no-such-model")


@pytest.mark.parametrize("name", OFFLINE)
def test_capabilities_are_declared_in_one_frozen_config(name, photos):
    """What an encoder can do is read from ``encoder.config`` (no probing), and the record it declares
    builds the same encoder again (what a catalog stores)."""
    enc = create_encoder(name)
    cfg = enc.config
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.text_tower = True
    assert (cfg.name, cfg.model_id, cfg.embed_dim, cfg.preprocess) == (name, enc.model_id, enc.embed_dim, enc.preprocess)
    assert cfg.feature_maps and not cfg.text_tower
    assert list(cfg.labels) == imagenet_labels() == enc.labels and cfg.label_groups == (("labels", 0, 1000),)
    again = create_encoder(cfg.record()["name"], **cfg.record()["options"])
    assert again.model_id == enc.model_id
    pixels = np.stack([enc.transform()(photos[0])])
    assert enc.feature_maps(pixels).shape[:2] == (1, 1280)
    with pytest.raises(EncoderUnavailableError, match="no text tower"):
        enc.encode_text(["a cat"])


def test_an_encoder_without_declared_capabilities_refuses_them_clearly():
    class Grey(Encoder):
        def __init__(self):
            super().__init__(EncoderConfig("grey", "test/grey-3", 3, PreprocessConfig(8, (0, 0, 0), (1, 1, 1))))

        def embed_pixels(self, pixels):
            return Embedding(l2_normalize(pixels.mean(axis=(2, 3)) + 1e-3))

    enc = Grey()
    assert enc.labels is None and enc.label_groups() == [] and enc.tags(np.zeros((1, 0))) == [[]]
    assert enc.encode_images([Image.new("RGB", (20, 10), (9, 9, 9))]).shape == (1, 3)
    with pytest.raises(EncoderUnavailableError, match="no feature maps"):
        enc.feature_maps(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="label groups"):
        EncoderConfig("x", "x", 3, enc.preprocess, labels=("a",), label_groups=(("g", 0, 2),))
