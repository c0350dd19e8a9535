"""Neural-style pieces: the VGG feature extractor, Gram matrices and losses, optimisers.

The modules that need TensorFlow (``losses``, ``colour``, ``optimize``, and ``network``
when it builds a model) import it through ``compositor._tf.quiet_import``; ``network``'s
layer checks do not import it, so validating vgg19 settings stays cheap.
"""
