"""Image, mask and sidecar files: ``read`` (whatever the file's mode, to RGB/RGBA uint8 or a
float32 mask, with one-sentence errors) and ``write`` (atomic writes, output-path checks).

The names below are the package's interface; callers import them from ``compositor.imageio``.
"""
from .read import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, TooManyPixels, check_readable, mask_from_values, max_pixels, over_white, \
    read_mask, read_rgb, read_rgb_bytes, read_rgba, sha256_file
from .write import PNG_LEVEL, check_outputs, check_writable, encode_png, image_format, mask_levels, write_all, \
    write_image, write_json, write_labels, write_mask, write_text

__all__ = [
    "DEFAULT_MAX_PIXELS", "IMAGE_SUFFIXES", "PNG_LEVEL", "TooManyPixels", "check_outputs", "check_readable", "check_writable",
    "encode_png", "image_format", "mask_from_values", "mask_levels", "max_pixels", "over_white", "read_mask",
    "read_rgb", "read_rgb_bytes", "read_rgba", "sha256_file", "write_all", "write_image", "write_json",
    "write_labels", "write_mask", "write_text",
]
