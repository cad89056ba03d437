"""Decoding and walking: the first stage of the data flow; imports nothing else from pixseek but errors."""
from pixseek.io.decode import DEFAULT_MAX_ASPECT, DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, load_image
from pixseek.io.files import DEFAULT_MAX_FILE_BYTES, printable_path, read_bounded, stat_regular
from pixseek.io.walk import walk_files

__all__ = ["DEFAULT_MAX_ASPECT", "DEFAULT_MAX_FILE_BYTES", "DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "load_image",
           "printable_path", "read_bounded", "stat_regular", "walk_files"]
