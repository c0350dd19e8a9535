"""The finishing stage after the colour harmonizer: realism beyond colour.

One module per step: ``blur`` (sharpness), ``noise`` (grain), ``jpeg`` (compression) match
each object to the photo around it; ``shadow`` darkens the background under it. ``stage``
runs them per object and records what each estimated (``finish``, ``FinishSettings``).
"""
from .stage import CUES, SHADOWS, FinishSettings, finish, make_finish_settings, object_masks, parse_light, parse_match

__all__ = ["CUES", "SHADOWS", "FinishSettings", "finish", "make_finish_settings", "object_masks", "parse_light",
           "parse_match"]
