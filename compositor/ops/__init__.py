"""Small array operations shared across the pipeline: mask and box geometry, pixel conversion, the Poisson solver."""
