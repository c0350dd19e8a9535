"""``compositor paste``: paste stickers onto a background.

Paste one or more stickers. Each is STICKER[@X,Y[,SIZE[,DEG]][,ANCHOR]]:

  X,Y     where the sticker's anchor lands: background pixels (120 or 120px) or percent of
          the background's width and height (50%,90%); default: the centre
  SIZE    a scale, the factor the sticker's pixels are multiplied by (0.5), or its height
          on the background in pixels (300px) or in percent of the background's height (40%)
  DEG     degrees counter-clockwise
  ANCHOR  centre (default) or bottom: X,Y is the middle of the object's bottom edge (its feet)

  cup.png@50%,90%,30%,0,bottom   the cup stands at the middle of the lower tenth, 30% as tall
                                 as the background
Later stickers cover earlier ones.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..options import add_finish_options, add_traceback, command, finish_values
from ..output import say
from ..paths import own_sidecars


def add_parser(sub) -> None:
    """Add the ``paste`` command to the subparsers ``sub``."""
    p = command(sub, "paste", __doc__)
    p.add_argument("background")
    p.add_argument("stickers", nargs="+", metavar="STICKER[@X,Y[,SIZE[,DEG]][,ANCHOR]]")
    p.add_argument("-o", "--output", required=True, help="composite image path")
    p.add_argument("--mask-out", required=True, help="mask path (.png: 0 background, 255 object)")
    add_finish_options(p)
    add_traceback(p)


def run(args) -> int:
    """Paste ``args.stickers`` onto ``args.background`` and write composite, mask and sidecar; returns 0."""
    from ... import api, records
    from ...imageio import check_outputs, image_format, write_all, write_image, write_json, write_mask
    from ...paste import Placement, parse_placement
    from ...stickers import read_sticker

    image_format(args.output)
    image_format(args.mask_out, lossless=True)
    specs = [parse_placement(s) for s in args.stickers]
    finishing = finish_values(args)
    sidecar = Path(args.output).with_suffix(".json")
    inputs = [args.background] + [p for p, _ in specs]
    check_outputs(inputs + own_sidecars(inputs), [args.output, args.mask_out, sidecar])
    placements = []
    for path, where in specs:
        placements.append(Placement(read_sticker(path), name=path, **where))
    comp = api.paste(args.background, placements)
    finished = None
    if any(v not in (None, "none") for k, v in finishing.items() if k in ("match", "shadow")):
        image, finished = api.finish(comp, comp, background=args.background, **finishing)
        comp = dataclasses.replace(comp, image=image)
    record = records.paste_record(records.file_record(args.background),
                                  [records.file_record(p.name) for p in placements], comp.objects,
                                  str(args.mask_out), finished)
    write_all([(args.output, lambda: write_image(args.output, comp.image)),
               (args.mask_out, lambda: write_mask(args.mask_out, comp.mask)),
               (sidecar, lambda: write_json(sidecar, record))])
    say(f"{args.output}: {len(placements)} object(s) pasted; mask in {args.mask_out}")
    return 0
