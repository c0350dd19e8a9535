"""``compositor harmonize``: blend a pasted object into its background.

Harmonize a composite. The mask is an image of the same size, nonzero where the object is.
Each object is corrected against its own surroundings (--objects says what the objects are).
`--backend NAME --help` lists that backend's settings (with every other backend's).
"""
from __future__ import annotations

from pathlib import Path

from ... import plugins
from ...harmonizers import DEFAULT_BACKEND
from ..bar import progress_for
from ..options import add_finish_options, add_output_options, command, finish_values
from ..output import say
from ..paths import own_sidecars, setting_files
from ..settings import add_settings, choose, given, plugin_settings


#: harmonize's finishing defaults: the matching steps that passed every do-no-harm check (see
#: compose); no shadow (a composite's objects may float), jpeg opt-in (--match all).
DEFAULTS: dict = {"match": "blur,noise"}


def add_parser(sub) -> None:
    """Add the ``harmonize`` command to the subparsers ``sub``: its options and every harmonizer's settings."""
    p = command(sub, "harmonize", __doc__)
    p.add_argument("composite")
    p.add_argument("--mask", required=True, help="object mask (nonzero = object), same size as the composite")
    p.add_argument("-o", "--output", required=True, help="output image path")
    p.add_argument("--objects", default=None, metavar="union|components|SIDECAR.json",
                   help="what is corrected one object at a time, each against its own surroundings: union (the "
                        "whole mask as one object), components (each connected part of the mask), or a paste "
                        "sidecar (its object boxes split the mask; later objects on top). Default: the paste "
                        "sidecar beside the composite when there is one, else union")
    p.add_argument("--backend", default=None, choices=plugins.names("harmonizer") or None,
                   help=f"harmonizer (default: {DEFAULT_BACKEND})")
    add_output_options(p)
    add_finish_options(p, DEFAULTS)
    add_settings(p, "harmonizer", "--backend")


def run(args) -> int:
    """Harmonize ``args.composite`` inside ``args.mask`` and write the image and its sidecar; returns 0."""
    from ... import api, records
    from ...imageio import check_outputs, image_format, write_all, write_image, write_json

    image_format(args.output)
    out = Path(args.output)
    sidecar = out.with_suffix(".json")
    backend = choose("harmonizer", args.backend, given(args), DEFAULT_BACKEND, "--backend")
    values = plugin_settings(args, "harmonizer", backend)
    finishing = finish_values(args)
    # the composite's own sidecar (paste's record of it) is kept too
    own = own_sidecars([args.composite])
    objects = args.objects or api.paste_record_beside(args.composite) or "union"
    record_file = [] if objects in ("union", "components") else [objects]
    inputs = [args.composite, args.mask, *own, *record_file, *setting_files(values)]
    check_outputs(inputs, [args.output, sidecar])
    ready = api.harmonizer(backend, **values)  # a bad setting is refused as itself, before the images are read
    progress = progress_for(args, out, inputs)  # a snapshot that would overwrite an input is refused here
    composite = api.load_composite(args.composite, args.mask, args.objects or "auto")  # auto: the record above
    with progress.kept_on_success():
        try:
            result = api.harmonize(composite, ready, progress=progress)
        finally:
            progress.close()
        result = api.finish_result(result, composite, finishing)
        record = {"composite": records.file_record(args.composite), "mask": records.file_record(args.mask),
                  "objects": objects if not record_file else records.file_record(objects),
                  **records.result_record(result), "snapshots": progress.snapshots, "versions": records.versions()}
        write_all([(out, lambda: write_image(out, result.image)), (sidecar, lambda: write_json(sidecar, record))])
    say(f"{out}: {result.backend} in {result.seconds:.1f} s")
    return 0
