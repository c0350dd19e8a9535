"""Cutter plugins: find an object in a photo and cut it out as a soft-edged RGBA sticker."""

#: The cutter used when none is named (cut, compose, batch manifests, synth).
DEFAULT_METHOD = "u2net"
