"""Neural-style pieces: the VGG feature extractor, Gram matrices and losses, optimisers.

Importing this package imports TensorFlow; only the VGG backend does so.
"""

from .._tf import quiet_import

quiet_import()
