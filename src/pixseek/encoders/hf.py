"""Hub-backed encoders through ``transformers``: CLIP and SigLIP (image + text towers), DINOv2 (image).

Registered with ``offline=False``: the weights do not ship with pixseek. They load from the user's
Hugging Face cache (``~/.cache/huggingface``), or from the hub the first time a machine that is online
uses them (``pixseek index FOLDER --model clip-vit-base-patch32``); afterwards ``HF_HUB_OFFLINE=1``
loads them from the cache only. ``transformers`` and ``torch`` are
imported when an encoder is created, never at import time.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from pixseek._extras import require
from pixseek.encoders.base import Embedding, Encoder, EncoderConfig, l2_normalize
from pixseek.encoders.registry import register_encoder
from pixseek.errors import EncoderUnavailableError
from pixseek.preprocess import PreprocessConfig

CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


TEXT_FAMILIES = ("clip", "siglip")  # families with a text tower in the image space


@dataclass(frozen=True)
class HubModel:
    repo: str                 # hub repository id (or a local folder saved with save_pretrained)
    family: str               # "clip", "siglip" or "dinov2"
    text_padding: str = "longest"


class HubEncoder(Encoder):
    """Image tower (and text tower, when the family has one) of a ``transformers`` model.

    ``encode_images`` and ``encode_text`` return L2-normalised float32 rows in one shared space."""

    def __init__(self, hub: HubModel, preprocess: PreprocessConfig, name: str, threads: int | None = None):
        self.hub = hub
        self.threads = threads
        super().__init__(EncoderConfig(
            name=name, model_id=f"hf:{hub.repo}", embed_dim=self._embed_dim(), preprocess=preprocess,
            options={"repo": hub.repo}, text_tower=hub.family in TEXT_FAMILIES))

    @cached_property
    def _torch(self):
        try:
            import torch
        except ImportError as exc:
            raise EncoderUnavailableError("hub encoders need torch and transformers (pip install transformers)") from exc
        if self.threads:
            torch.set_num_threads(self.threads)
        return torch

    def _load(self, what: str):
        transformers = require("hub", "transformers")
        cls = {"model": transformers.AutoModel, "tokenizer": transformers.AutoTokenizer,
               "config": transformers.AutoConfig}[what]
        try:
            return cls.from_pretrained(self.hub.repo)
        except OSError as exc:
            offline = os.environ.get("HF_HUB_OFFLINE") == "1"
            raise EncoderUnavailableError(
                f"{self.hub.repo}: not in the Hugging Face cache{' (HF_HUB_OFFLINE=1)' if offline else ''} and "
                f"not downloadable ({exc}); run once online: pixseek index FOLDER --model NAME") from exc

    def _embed_dim(self) -> int:
        cfg = self._load("config")
        if self.hub.family == "dinov2":
            return int(cfg.hidden_size)
        if self.hub.family == "clip":
            return int(cfg.projection_dim)
        # siglip: the text head projects to projection_size (= the text hidden size unless set)
        return int(getattr(cfg.text_config, "projection_size", None) or cfg.text_config.hidden_size)

    @cached_property
    def model(self):
        self._torch  # noqa: B018  (thread setting first)
        return self._load("model").eval()

    @cached_property
    def tokenizer(self):
        if not self.config.text_tower:
            raise EncoderUnavailableError(f"{self.hub.repo} has no text tower")
        return self._load("tokenizer")

    def _pooled(self, out):
        """``get_*_features`` gives a tensor, or (in some transformers versions) an output with ``pooler_output``."""
        return out if isinstance(out, self._torch.Tensor) else out.pooler_output

    def embed_pixels(self, pixels: np.ndarray) -> Embedding:
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(pixels, np.float32))
        with torch.inference_mode():
            if self.hub.family == "dinov2":
                feats = self.model(pixel_values=x).pooler_output
            else:
                feats = self._pooled(self.model.get_image_features(pixel_values=x))
        return Embedding(vectors=l2_normalize(feats.float().numpy()))

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Words -> L2-normalised float32 (n, embed_dim), in the image vectors' space."""
        if not self.config.text_tower:
            return super().encode_text(texts)  # raises: no text tower
        torch = self._torch
        kw = {"padding": self.hub.text_padding, "truncation": True, "return_tensors": "pt"}
        if self.hub.text_padding == "max_length":
            kw["max_length"] = int(self.model.config.text_config.max_position_embeddings)
        tokens = self.tokenizer(list(texts), **kw)
        with torch.inference_mode():
            feats = self._pooled(self.model.get_text_features(
                **{k: v for k, v in tokens.items() if k in ("input_ids", "attention_mask")}))
        return l2_normalize(feats.float().numpy())


CLIP = PreprocessConfig(224, CLIP_MEAN, CLIP_STD, mode="center_crop", interpolation="bicubic")
SIGLIP = PreprocessConfig(224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), mode="squash", interpolation="bicubic")
DINO = PreprocessConfig(224, crop_pct=224 / 256, interpolation="bicubic")


@register_encoder("clip-vit-base-patch32", preprocess=CLIP, offline=False, tags=("hub", "text"),
                  description="OpenAI CLIP ViT-B/32 via transformers (hub: openai/clip-vit-base-patch32), 512-d, text tower")
def clip_vit_base_patch32(preprocess: PreprocessConfig, repo: str = "openai/clip-vit-base-patch32",
                          threads: int | None = None) -> Encoder:
    return HubEncoder(HubModel(repo, "clip"), preprocess, "clip-vit-base-patch32", threads)


@register_encoder("siglip-base-patch16-224", preprocess=SIGLIP, offline=False, tags=("hub", "text"),
                  description="Google SigLIP B/16-224 via transformers (hub: google/siglip-base-patch16-224), 768-d, text tower")
def siglip_base_patch16_224(preprocess: PreprocessConfig, repo: str = "google/siglip-base-patch16-224",
                            threads: int | None = None) -> Encoder:
    return HubEncoder(HubModel(repo, "siglip", text_padding="max_length"), preprocess, "siglip-base-patch16-224", threads)


@register_encoder("dinov2-small", preprocess=DINO, offline=False, tags=("hub",),
                  description="Meta DINOv2 ViT-S/14 via transformers (hub: facebook/dinov2-small), 384-d CLS, image only")
def dinov2_small(preprocess: PreprocessConfig, repo: str = "facebook/dinov2-small",
                 threads: int | None = None) -> Encoder:
    return HubEncoder(HubModel(repo, "dinov2"), preprocess, "dinov2-small", threads)
