"""The shadow step: darker only, never on the object, never black, deterministic, away from the light."""
from __future__ import annotations

import numpy as np
import pytest

from compositor.errors import UsageError
from compositor.finish import finish, make_finish_settings
from compositor.finish.shadow import shadow_map
from compositor.finish.stage import FinishSettings
from compositor.paste import Placement


@pytest.mark.parametrize("values", [
    {"shadow": "contact"},
    {"shadow": "contact", "shadow_opacity": 0.9, "shadow_softness": 0.0},
    {"shadow": "cast", "light": "90,30"},
    {"shadow": "cast", "light": "200,10", "shadow_softness": 1.0},
    {"shadow": "cast", "light": "0,90"},
])
@pytest.mark.parametrize("scene", ["coffee", "floor"])
def test_never_brightens_nor_touches_the_object(request, scene, values):
    photo, mask = request.getfixturevalue(scene)
    settings = make_finish_settings(values)
    out, record = finish(photo, [mask], settings)
    assert out.dtype == np.uint8 and out.shape == photo.shape
    assert (out <= photo).all(), "a shadow brightened a pixel"
    inside = mask >= 0.999
    assert (out[inside] == photo[inside]).all(), "a shadow touched the object"
    darker = (out.astype(int) - photo).min(axis=2) < 0
    assert darker.sum() > 50, "no shadow was made"
    # never black: no pixel below (1 - opacity) of what it was (1 level for rounding)
    floor = np.floor(photo * (1 - settings.shadow_opacity)) - 1
    assert (out >= floor).all()
    assert record["objects"][0]["shadow"]["kind"] == values["shadow"]


def test_contact_shadow_lies_at_the_foot(floor):
    photo, mask = floor
    S, _ = shadow_map(mask, "contact", None, 0.5)
    rows = np.nonzero(mask >= 0.5)[0]
    top, bottom = rows.min(), rows.max()
    ys = np.nonzero(S > 0.2)[0]
    assert ys.size and ys.min() >= top + 0.7 * (bottom - top), "the contact shadow is not at the object's lowest edge"


@pytest.mark.parametrize("azimuth, side", [(90, -1), (270, 1)])
def test_cast_shadow_falls_away_from_the_light(floor, azimuth, side):
    photo, mask = floor
    S, info = shadow_map(mask, "cast", (azimuth, 30.0), 0.5)
    contact, _ = shadow_map(mask, "contact", None, 0.5)
    cast_only = np.where(S > contact + 1e-3, S, 0)
    xs = np.nonzero(mask >= 0.5)[1]
    cx = (cast_only.sum(0) * np.arange(S.shape[1])).sum() / cast_only.sum()
    assert np.sign(cx - xs.mean()) == side, f"light from {azimuth} deg: the shadow's centre {cx:.0f} vs object {xs.mean():.0f}"
    assert info["light"] == [azimuth, 30.0]


def test_cast_shadow_fades_with_distance(floor):
    _, mask = floor
    S, _ = shadow_map(mask, "cast", (0.0, 20.0), 0.5)  # light from behind: the shadow comes down the picture
    foot = np.nonzero(mask >= 0.5)[0].max()
    below = S[foot + 1:]
    near, far = below[: len(below) // 4].max(), below[len(below) // 2:].max()
    assert near > far


def test_same_seed_same_bytes(coffee):
    photo, mask = coffee
    s = make_finish_settings({"shadow": "cast", "light": "135,40", "match": "all", "seed": 7})
    a, ra = finish(photo, [mask], s)
    b, rb = finish(photo, [mask], s)
    assert a.tobytes() == b.tobytes()
    assert ra["seed"] == 7


@pytest.mark.parametrize("values, words", [
    ({"shadow": "cast"}, "needs a light direction"),
    ({"shadow": "cast", "light": "30,95"}, "finish.light: the elevation must be between 0 and 90"),
    ({"shadow": "cast", "light": "30,-5"}, "elevation must be between 0 and 90"),
    ({"shadow": "cast", "light": "north"}, "finish.light must be AZIMUTH,ELEVATION"),
    ({"shadow": "soft"}, "finish.shadow must be one of"),
    ({"shadow_opacity": 1.0}, "finish.shadow_opacity must be between 0.0 and 0.9"),
    ({"shadow_softness": -0.1}, "finish.shadow_softness must be between"),
    ({"match": "blur,sharpen"}, "finish.match must be a comma list"),
    ({"seed": -1}, "finish.seed must be between"),
    ({"glow": 1}, "finish has no setting 'glow'"),
    ({"shadow": "cast", "light": 5}, "light must be AZIMUTH,ELEVATION"),  # a TypeError, before
    ({"match": 5}, "match must be a comma list"),
    ({"shadow": "cast", "light": {30, 60}}, "finish.light must be AZIMUTH,ELEVATION in that order.*a set"),  # 60,30
    ({"shadow": "cast", "light": {"a": 1}}, "finish.light must be AZIMUTH,ELEVATION in that order.*a dict"),
    ({1: 2}, "finish: a setting's name must be text; received 1"),  # AttributeError, before
    ({None: "cast"}, "finish: a setting's name must be text; received None"),
    (FinishSettings, "finish must be a dict of its settings or a FinishSettings; received the class"),  # TypeError
    (Placement(sticker="cup.png"), "finish must be a dict of its settings or a FinishSettings; received a Placement"),
    ("shadow=cast", "finish must be a dict of its settings or a FinishSettings; received a str"),
])
def test_bad_values_refused(values, words):
    with pytest.raises(UsageError, match=words) as info:
        make_finish_settings(values)
    assert "\n" not in str(info.value)
