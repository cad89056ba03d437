"""Train on your own images: metric learning (a projection head, optionally the CNN's last block or all
of it) and tagging (a calibrated classifier head), saved as ``.model`` artefacts that the encoder
registry loads (``create_encoder("shoes.model")``)."""
from pixseek._extras import require

require("train", "pytorch_metric_learning", "matplotlib", "scipy")
from pixseek.train.recipes import EmbeddingRecipe, TaggerRecipe, Trained, train_embedding, train_tagger  # noqa: E402

__all__ = ["EmbeddingRecipe", "TaggerRecipe", "Trained", "train_embedding", "train_tagger"]
