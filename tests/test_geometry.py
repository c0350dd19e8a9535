"""compositor.ops.geometry: the bounding box of a mask, and a box grown and clipped."""
import cv2
import numpy as np

from compositor.ops.geometry import bbox, grow


def test_bbox_is_opencv_bounding_rect_for_every_dtype():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = np.zeros((37, 53), np.float32)
        x, y = rng.integers(0, 50), rng.integers(0, 34)
        w, h = rng.integers(1, 53 - x + 1), rng.integers(1, 37 - y + 1)
        mask[y:y + h, x:x + w] = rng.random((h, w)) * (rng.random((h, w)) > 0.3)
        mask[y, x] = mask[y + h - 1, x + w - 1] = 0.25
        expected = cv2.boundingRect((mask > 0).astype(np.uint8))
        assert bbox(mask) == expected == (x, y, w, h)
        assert bbox(mask > 0) == expected
        assert bbox((mask > 0).astype(np.uint8) * 255) == expected


def test_bbox_of_an_empty_mask_is_none():
    assert bbox(np.zeros((4, 5), bool)) is None
    assert bbox(np.zeros((0, 0), np.float32)) is None


def test_bbox_single_pixel_and_full_mask():
    mask = np.zeros((10, 12), bool)
    mask[3, 7] = True
    assert bbox(mask) == (7, 3, 1, 1)
    assert bbox(np.ones((10, 12), bool)) == (0, 0, 12, 10)


def test_grow_pads_and_clips_to_the_image():
    assert grow((10, 20, 5, 6), 3, (100, 100)) == (7, 17, 18, 29)
    assert grow((1, 2, 5, 6), 4, (8, 9)) == (0, 0, 8, 9)
    assert grow((1, 2, 5, 6), 0, (100, 100)) == (1, 2, 6, 8)
