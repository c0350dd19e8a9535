"""Cutter plugins: find an object in a photo and cut it out as a soft-edged RGBA sticker."""
