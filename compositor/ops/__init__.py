"""Small array operations shared across the pipeline (geometry of masks and boxes)."""
