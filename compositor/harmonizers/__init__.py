"""Harmonizer plugins: each turns a Composite into a Result. See ``base`` for the contract."""

#: The harmonizer used when none is named (harmonize, compose, the API, batch manifests).
DEFAULT_BACKEND = "vgg19"
