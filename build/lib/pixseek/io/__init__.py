"""Decoding and walking: the first stage of the data flow; imports nothing else from pixseek but errors."""
from pixseek.io.decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, load_image
from pixseek.io.walk import walk_files

__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "load_image", "walk_files"]
