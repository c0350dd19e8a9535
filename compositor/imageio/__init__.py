"""Image, mask and sidecar files: ``read`` (whatever the file's mode, to RGB/RGBA uint8 or a
float32 mask, with one-sentence errors) and ``write`` (atomic writes, output-path checks).

The names below are the package's interface; callers import them from ``compositor.imageio``.
"""
from .read import DEFAULT_MAX_PIXELS, check_readable, mask_from_values, max_pixels, read_mask, read_rgb, \
    read_rgb_bytes, read_rgba, sha256_file, TooManyPixels, over_white
from .write import PNG_LEVEL, check_outputs, check_writable, encode_png, image_format, write_all, write_image, \
    write_json, write_labels, write_mask, write_text

__all__ = [
    "DEFAULT_MAX_PIXELS", "PNG_LEVEL", "check_outputs", "check_readable", "check_writable", "encode_png",
    "image_format", "mask_from_values", "max_pixels", "read_mask", "read_rgb", "read_rgb_bytes", "read_rgba",
    "sha256_file", "TooManyPixels", "over_white", "write_all", "write_image", "write_json", "write_labels", "write_mask", "write_text",
]
