"""Harmonizer plugins: each turns a Composite into a Result. See ``base`` for the contract."""
