"""Encoder contract over the registry, and ONNX agreeing with PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

from pixseek.encoders import create_encoder, list_encoders
from pixseek.encoders.efficientnet import features_and_logits_module, imagenet_labels, load_torch_model
from pixseek.errors import UnknownEncoderError
from pixseek.io import load_image
from pixseek.preprocess import build_transform

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
