"""The built-in synthetic dataset: seeded cartoon faces performing the 7 MUG expressions.

It needs no download, so every part of the suite (training, metrics, studies) runs offline on it.
Each identity is a set of seeded attributes (face shape and size, skin, eyes, hair, brows,
background, clothes) that stays fixed within a clip; each take moves from neutral to the
expression's apex with its own random timing, blinks and a little head motion, so the future of a
clip is uncertain given its first frame and a generator's noise input matters.

Rendering is vectorised numpy on the 64x64 grid itself: every shape is an approximate signed
distance ``d`` (in output pixels), and its coverage ``clip(0.5 - d, 0, 1)`` is the area a 1-pixel
box filter would see, which anti-aliases edges without a supersampled canvas. One 32-frame clip
takes about 10 ms on one core (``benchmarks/bench_synthetic.py``).

Why this module is over 400 lines: it is the whole generator of the built-in dataset (faces, the 7 expressions over time, takes, identities, split); its parts only make sense together.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from vbench_i2v import protocol
from vbench_i2v.datasets import DATASETS
from vbench_i2v.datasets.base import VideoDataset, VideoRecord
from vbench_i2v.errors import DatasetError
from vbench_i2v.options import Option, Schema

EXPRESSIONS = ["happy", "sad", "surprise", "anger", "disgust", "fear", "neutral"]
HAIR_STYLES = ["short", "fringe", "side-part", "long", "bald", "curly", "bun"]

# --- identity ------------------------------------------------------------------------------

_SKIN = np.array([[255, 224, 196], [241, 194, 160], [224, 172, 125], [198, 134, 92],
                  [161, 102, 66], [120, 75, 48], [255, 205, 170], [232, 185, 150]], np.float32)
_HAIR = np.array([[25, 20, 18], [70, 45, 30], [120, 80, 45], [165, 75, 35], [225, 190, 110],
                  [190, 190, 195], [95, 60, 110], [40, 60, 120]], np.float32)
_EYES = np.array([[90, 55, 30], [50, 35, 25], [60, 110, 170], [70, 130, 80], [120, 125, 130],
                  [140, 110, 50]], np.float32)


@dataclass(frozen=True)
class Identity:
    """Seeded attributes of one cartoon person; lengths are pixels of a 64x64 frame."""

    face_w: float  # half-width of the face
    face_h: float  # half-height of the face
    jaw: float  # how much the face narrows towards the chin (0 = plain ellipse)
    face_y: float  # vertical position of the face centre
    skin: tuple  # RGB
    eye_color: tuple
    eye_spacing: float  # half-distance between the eye centres
    eye_w: float
    eye_h: float
    eye_y: float  # relative to the face centre
    brow_gap: float  # eye centre to brow
    brow_thick: float  # brow stroke radius
    hair_style: str
    hair_color: tuple
    hairline: float  # hairline height as a fraction of face_h above the centre
    mouth_w: float
    mouth_y: float
    mouth_curve: float  # resting corner lift (px)
    lip_color: tuple
    nose_len: float
    background: tuple  # top colour of the vertical gradient
    background2: tuple  # bottom colour
    shirt: tuple
    blush: float  # resting cheek colour strength

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _jitter(rng: np.random.Generator, color: np.ndarray, amount: float) -> tuple:
    return tuple(float(c) for c in np.clip(color + rng.uniform(-amount, amount, 3), 0, 255))


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    import colorsys

    return np.array(colorsys.hsv_to_rgb(h, s, v), np.float32) * 255


def sample_identity(rng: np.random.Generator) -> Identity:
    """Draw one identity's attributes from ``rng`` (all choices seeded through it)."""
    face_w = rng.uniform(15.5, 19.0)
    skin = _SKIN[rng.integers(len(_SKIN))]
    hair = _HAIR[rng.integers(len(_HAIR))]
    bg_hue = rng.uniform(0, 1)
    bg = _hsv_to_rgb(bg_hue, rng.uniform(0.25, 0.7), rng.uniform(0.55, 0.95))
    bg2 = _hsv_to_rgb((bg_hue + rng.uniform(-0.08, 0.08)) % 1, rng.uniform(0.25, 0.7), rng.uniform(0.4, 0.8))
    shirt = _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9))
    return Identity(
        face_w=face_w,
        face_h=face_w * rng.uniform(1.08, 1.35),
        jaw=rng.uniform(0.0, 0.35),
        face_y=rng.uniform(28.5, 31.0),
        skin=_jitter(rng, skin, 10),
        eye_color=_jitter(rng, _EYES[rng.integers(len(_EYES))], 12),
        eye_spacing=face_w * rng.uniform(0.36, 0.46),
        eye_w=rng.uniform(2.8, 3.6),
        eye_h=rng.uniform(2.1, 2.8),
        eye_y=rng.uniform(-3.5, -1.5),
        brow_gap=rng.uniform(3.8, 5.0),
        brow_thick=rng.uniform(0.55, 1.25),
        hair_style=HAIR_STYLES[rng.integers(len(HAIR_STYLES))],
        hair_color=_jitter(rng, hair, 12),
        hairline=rng.uniform(0.45, 0.65),
        mouth_w=rng.uniform(4.8, 6.5),
        mouth_y=rng.uniform(8.5, 10.5),
        mouth_curve=rng.uniform(-0.2, 0.5),
        lip_color=_jitter(rng, np.array([140, 35, 45], np.float32) * 0.5 + skin * 0.3, 8),
        nose_len=rng.uniform(2.5, 4.0),
        background=tuple(float(c) for c in bg),
        background2=tuple(float(c) for c in bg2),
        shirt=tuple(float(c) for c in shirt),
        blush=rng.uniform(0.0, 0.25),
    )


# --- expressions and takes -----------------------------------------------------------------

# Apex change of each facial control relative to the identity's neutral face (pixels unless
# noted). Keys: corner lift, mouth opening, share of the opening above the lip line, mouth width
# factor, one-sided lip raise, teeth (share of the opening), eye opening factor, brow raise,
# extra inner-brow raise (negative = inner ends down), brows drawn together, cheek raise/blush,
# nose wrinkles, pupil size factor, mouth shift down.
_NEUTRAL = dict(curve=0.0, open=0.0, up=0.4, width=1.0, asym=0.0, teeth=0.0, eye=1.0, brow=0.0,
                inner=0.0, brow_in=0.0, cheek=0.0, wrinkle=0.0, pupil=1.0, mouth_dy=0.0)
APEX = {
    "happy": dict(curve=2.6, open=2.4, up=0.15, width=1.3, teeth=0.45, eye=0.55, brow=0.4, cheek=1.0),
    "sad": dict(curve=-2.4, width=0.85, eye=0.7, inner=2.6, brow=-0.3, mouth_dy=0.8),
    "surprise": dict(open=6.0, up=0.3, width=0.55, eye=1.5, brow=3.2, pupil=0.75, mouth_dy=1.0),
    "anger": dict(curve=-1.2, open=1.8, up=0.5, teeth=0.7, width=0.85, eye=0.7, brow=-1.2, inner=-2.4,
                  brow_in=1.0),
    "disgust": dict(curve=-0.8, asym=2.2, open=1.6, up=1.0, teeth=0.9, width=0.95, eye=0.5, brow=-0.8,
                    inner=-0.8, wrinkle=1.0),
    "fear": dict(curve=-1.2, open=2.2, up=0.35, width=1.35, teeth=0.5, eye=1.45, brow=2.0, inner=1.8,
                 pupil=0.6),
    "neutral": dict(),
}
APEX = {k: {**_NEUTRAL, **v} for k, v in APEX.items()}


@dataclass(frozen=True)
class Take:
    """Timing and motion of one take: expression intensity, eye openness and head pose per frame."""

    intensity: np.ndarray  # (T,) 0 = neutral, ~1 = apex
    blink: np.ndarray  # (T,) eye openness factor, 1 = open
    dx: np.ndarray  # (T,) head translation (px)
    dy: np.ndarray
    tilt: np.ndarray  # (T,) head roll (radians)
    gaze: tuple  # (x, y) iris offset (px)


def sample_take(rng: np.random.Generator, frames: int = protocol.CLIP_FRAMES) -> Take:
    """Random onset and ramp to the apex, random blinks and a smooth small head motion."""
    t = np.arange(frames, dtype=np.float32)
    onset = rng.uniform(1.0, 0.35 * frames)
    ramp = rng.uniform(0.18, 0.42) * frames
    apex = rng.uniform(0.85, 1.0)
    x = np.clip((t - onset) / ramp, 0, 1)
    intensity = apex * x * x * (3 - 2 * x)

    blink = np.ones(frames, np.float32)
    for _ in range(rng.choice(3, p=[0.3, 0.5, 0.2])):
        start = int(rng.integers(0, frames - 2))
        for k, v in enumerate((0.45, 0.0, 0.4)):
            if start + k < frames:
                blink[start + k] = min(blink[start + k], v)

    def wander(amplitude: float) -> np.ndarray:
        out = np.zeros(frames, np.float32)
        for _ in range(2):
            freq = rng.uniform(0.5, 2.0) / frames
            out += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
        return (amplitude / 2 * out).astype(np.float32)

    return Take(intensity.astype(np.float32), blink, wander(rng.uniform(0.6, 1.8)), wander(rng.uniform(0.4, 1.2)),
                wander(np.deg2rad(rng.uniform(1.5, 5.0))), (float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.3, 0.3))))


# --- shapes: signed distances in 64-grid pixels --------------------------------------------

def _cov(d: np.ndarray, px: float) -> np.ndarray:
    """Coverage of a pixel by the shape ``d <= 0`` (``px`` = output pixel size in grid units)."""
    return np.clip(0.5 - d / px, 0.0, 1.0)


def _ellipse(u, v, cx, cy, rx, ry):
    """Distance to an ellipse: F / |grad F| with F = X^2 + Y^2 - 1 (exact at the boundary),
    bounded below by the distance to the bounding box so thin ellipses do not leak sideways."""
    du, dv = u - cx, v - cy
    x, y = du / rx, dv / ry
    first_order = (x * x + y * y - 1) / (2 * np.sqrt((x / rx) ** 2 + (y / ry) ** 2) + 1e-6)
    return np.maximum(first_order, np.maximum(np.abs(du) - rx, np.abs(dv) - ry))


def _capsule(u, v, ax, ay, bx, by, r):
    """Distance to a segment from (ax, ay) to (bx, by) thickened by ``r``."""
    pax, pay, bax, bay = u - ax, v - ay, bx - ax, by - ay
    h = np.clip((pax * bax + pay * bay) / (bax * bax + bay * bay + 1e-6), 0, 1)
    return np.sqrt((pax - bax * h) ** 2 + (pay - bay * h) ** 2) - r


def _paint(img: np.ndarray, cov: np.ndarray, color) -> None:
    """Composite ``color`` over ``img`` (channel planes ``3 x T x H x W``) with opacity ``cov``,
    in place. Planes, not a trailing RGB axis: numpy is several times faster on them."""
    for plane, c in zip(img, color):
        plane += cov * (np.float32(c) - plane)


def _col(x) -> np.ndarray:
    """Per-frame values (T,) as (T, 1, 1) for broadcasting over the grid."""
    return np.asarray(x, np.float32)[:, None, None]


def _controls(expression: str, take: Take) -> dict:
    """Per-frame facial controls (T, 1, 1): neutral + intensity * (apex - neutral)."""
    apex = APEX[expression]
    return {k: _col(_NEUTRAL[k] + take.intensity * (apex[k] - _NEUTRAL[k])) for k in _NEUTRAL}


def _head_coords(gx, gy, idt: Identity, take: Take):
    """Head coordinates (u, v): origin at the face centre, rolled about the chin by the tilt."""
    cos, sin = _col(np.cos(take.tilt)), _col(np.sin(take.tilt))
    ox, oy = gx - _col(32.0 + take.dx), gy - _col(idt.face_y + take.dy) - idt.face_h
    return cos * ox + sin * oy, -sin * ox + cos * oy + idt.face_h


# Draw each shape only inside its window (its box in head coordinates, grown by the clip's
# largest head motion): about three times faster. Tests switch it off to check that no shape
# reaches outside its window.
WINDOWED = True


class _Canvas:
    """The clip as channel planes ``3 x T x H x W`` plus head coordinates, painted shape by shape."""

    def __init__(self, img: np.ndarray, gx, gy, idt: Identity, take: Take, px: float):
        self.img, self.px = img, px
        self.u, self.v = _head_coords(gx, gy, idt, take)
        self.cx, self.cy = 32.0, idt.face_y
        reach = np.hypot(idt.face_w + 6.0, 2 * idt.face_h + 8.0)  # farthest point from the chin pivot
        self.margin = 1.5 + max(np.abs(take.dx).max(), np.abs(take.dy).max()) + np.abs(take.tilt).max() * reach
        self.size = img.shape[-1]

    def _slice(self, lo: float, hi: float, centre: float) -> slice:
        a = int(np.floor((centre + lo - self.margin) / self.px))
        b = int(np.ceil((centre + hi + self.margin) / self.px)) + 1
        return slice(min(max(a, 0), self.size), min(max(b, 0), self.size))

    def paint(self, box, distance, color, alpha=1.0, soft: float = 1.0) -> None:
        """Paint the shape ``distance(u, v) <= 0`` (``box`` = x0, x1, y0, y1 in head coordinates
        bounding it in every frame), edges blurred over ``soft`` pixels, opacity ``alpha``."""
        if WINDOWED:
            x0, x1, y0, y1 = box
            sy, sx = self._slice(y0, y1, self.cy), self._slice(x0, x1, self.cx)
            img, u, v = self.img[:, :, sy, sx], self.u[:, sy, sx], self.v[:, sy, sx]
            if img.size == 0:
                return
        else:
            img, u, v = self.img, self.u, self.v
        _paint(img, _cov(distance(u, v), soft * self.px) * alpha, color)


def _around(x: float, y: float, rx: float, ry: float) -> tuple[float, float, float, float]:
    return (x - rx, x + rx, y - ry, y + ry)


def _draw_head(cv: _Canvas, idt: Identity) -> None:
    """Hair, neck, ears, face outline: everything that does not change with the expression."""
    fw, fh = idt.face_w, idt.face_h
    skin = np.asarray(idt.skin, np.float32)
    hair = np.asarray(idt.hair_color, np.float32)
    style = idt.hair_style

    if style == "long":  # hair behind the head
        cv.paint(_around(0, 2.0, fw + 3.5, fh + 5.0),
                 lambda u, v: np.maximum(_ellipse(u, v, 0, 2.0, fw + 3.5, fh + 5.0), v - fh - 6.0), hair)
    elif style == "curly":
        cv.paint(_around(0, -3.0, fw + 5.0, fh + 2.0), lambda u, v: _ellipse(u, v, 0, -3.0, fw + 5.0, fh + 2.0), hair)
    elif style == "bun":
        cv.paint(_around(0, -fh - 2.5, 5.0, 4.0), lambda u, v: _ellipse(u, v, 0, -fh - 2.5, 5.0, 4.0), hair)

    r = fw * 0.42
    cv.paint((-r, r, fh * 0.6 - r, fh + 12.0 + r), lambda u, v: _capsule(u, v, 0, fh * 0.6, 0, fh + 12.0, r), skin * 0.85)
    for side in (-1, 1):
        cv.paint(_around(side * fw, 0.5, 2.6, 3.8), lambda u, v: _ellipse(u, v, side * fw, 0.5, 2.6, 3.8), skin * 0.92)
    # The face narrows towards the chin (only ever inside the ellipse's box).
    cv.paint(_around(0, 0, fw, fh),
             lambda u, v: _ellipse(u * (1 + idt.jaw * np.clip(v / fh, 0, 1)), v, 0, 0, fw, fh), skin)

    # Hair on top: the head's outline cut by the style's hairline.
    line = -idt.hairline * fh
    box = _around(0, 0, fw + 1.3, fh + 1.3)
    if style in ("short", "long", "bun"):
        cap = lambda u, v: np.maximum(_ellipse(u, v, 0, 0, fw + 1.3, fh + 1.3), v - (line + 0.12 * u * u / fw))
    elif style == "fringe":
        cap = lambda u, v: np.maximum(_ellipse(u, v, 0, 0, fw + 1.3, fh + 1.3), v - (line + 4.0))
    elif style == "side-part":
        cap = lambda u, v: np.maximum(_ellipse(u, v, 0, 0, fw + 1.3, fh + 1.3), v - (line + 0.25 * (u + fw)))
    elif style == "curly":
        box = _around(0, -2.0, fw + 3.0, fh + 2.0)
        cap = lambda u, v: np.maximum(_ellipse(u, v, 0, -2.0, fw + 3.0, fh + 2.0),
                                      v - (line + 1.0 + 0.08 * u * u / fw))
    else:  # bald: a little hair above each ear only
        for side in (-1, 1):
            cv.paint(_around(side * (fw - 0.3), -2.5, 2.0, 4.0),
                     lambda u, v: np.maximum(_ellipse(u, v, side * (fw - 0.3), -2.5, 2.0, 4.0),
                                             _ellipse(u, v, 0, 0, fw + 1.0, fh + 1.0)), hair)
        return
    cv.paint(box, cap, hair)


def _draw_features(cv: _Canvas, idt: Identity, e: dict, take: Take) -> None:
    """Cheeks, eyes, brows, nose and mouth, driven by the per-frame controls ``e``."""
    skin = np.asarray(idt.skin, np.float32)
    hair = np.asarray(idt.hair_color, np.float32)
    ey, es = idt.eye_y, idt.eye_spacing

    # Cheeks: resting blush, raised and reddened by "cheek" (happy); edges blurred.
    cheek_a = np.clip(idt.blush + 0.35 * e["cheek"], 0, 1)
    cheek_y = ey + 5.5 - 1.5 * e["cheek"]
    for side in (-1, 1):
        cv.paint(_around(side * es * 1.1, ey + 4.75, 3.2 + 1.5, 2.2 + 0.75 + 1.5),
                 lambda u, v: _ellipse(u, v, side * es * 1.1, cheek_y, 3.2, 2.2), (230, 110, 110), cheek_a, soft=2.5)

    # Eyes: a dark outline ellipse (a line when closed), the white, the iris and the pupil
    # clipped to the white.
    ry = idt.eye_h * e["eye"] * _col(take.blink)
    ry_max = float(ry.max())
    thin = np.clip(2 * ry, 0, 1)  # a nearly closed white covers only part of a pixel row
    for side in (-1, 1):
        ex = side * es
        ix, iy = ex + take.gaze[0], ey + take.gaze[1]
        box = _around(ex, ey, idt.eye_w + 0.6, ry_max + 0.6)
        white = lambda u, v: _ellipse(u, v, ex, ey, idt.eye_w, np.maximum(ry, 1e-3))
        cv.paint(box, lambda u, v: _ellipse(u, v, ex, ey, idt.eye_w + 0.6, ry + 0.6), (35, 25, 25))
        cv.paint(box, white, (250, 250, 248), thin)
        cv.paint(box, lambda u, v: np.maximum(_capsule(u, v, ix, iy, ix, iy, 0.8 * idt.eye_h), white(u, v)),
                 idt.eye_color, thin)
        cv.paint(box, lambda u, v: np.maximum(_capsule(u, v, ix, iy, ix, iy, 0.4 * idt.eye_h * e["pupil"]),
                                              white(u, v)), (15, 10, 10), thin)

    # Brows: thick segments; both ends move with "brow", the inner ends with "inner", and
    # "brow_in" draws them together.
    # Darker than both the hair and the skin, so brows show on every skin tone.
    brow_color = np.minimum(hair * 0.65, skin * 0.45) if idt.hair_style != "bald" else skin * 0.4
    by = ey - idt.brow_gap - e["brow"]
    t = idt.brow_thick
    for side in (-1, 1):
        inner_x = side * (es - idt.eye_w - 0.3 - e["brow_in"])
        outer_x = side * (es + idt.eye_w + 0.5)
        lo = float(np.min(by - np.maximum(e["inner"], 0))) - t
        hi = float(np.max(by - np.minimum(e["inner"], 0))) + 0.6 + t
        xs = (float(np.min(inner_x)), float(np.max(inner_x)), outer_x)
        cv.paint((min(xs) - t, max(xs) + t, lo, hi),
                 lambda u, v: _capsule(u, v, inner_x, by - e["inner"], outer_x, by + 0.6, t), brow_color)

    # Nose and, for disgust, wrinkles beside its bridge.
    nose_top = ey + 1.5
    cv.paint((-0.3, 1.5, nose_top - 0.6, nose_top + idt.nose_len + 0.6),
             lambda u, v: _capsule(u, v, 0.3, nose_top, 0.9, nose_top + idt.nose_len, 0.55), skin * 0.75)
    wrinkle = np.clip(e["wrinkle"], 0, 1)
    if wrinkle.max() > 0:
        for side in (-1, 1):
            cv.paint(_around(side * 2.3, ey + 1.6, 1.0, 1.3),
                     lambda u, v: _capsule(u, v, side * 1.8, ey + 0.8, side * 2.8, ey + 2.4, 0.4), skin * 0.65, wrinkle)

    # Mouth: a lip line bent by "curve" (corners up) and "asym" (one side up), opening by "open"
    # ("up" = share of the opening above the line) into a dark interior with teeth at the top.
    mw = idt.mouth_w * e["width"]
    mouth_y = idt.mouth_y + e["mouth_dy"]
    lift = idt.mouth_curve + e["curve"]
    half = 0.7  # half the lip thickness

    def mouth_parts(u, v):
        my = v - mouth_y
        s = u / mw
        centre = -lift * s * s - e["asym"] * np.clip(s, 0, 1)
        opening = e["open"] * np.sqrt(np.clip(1 - s * s, 0, 1))
        top = centre - opening * e["up"]
        bottom = centre + opening * (1 - e["up"])
        slope = np.sqrt(1 + ((2 * lift * s + e["asym"] * (s > 0)) / mw) ** 2)
        return my, top, bottom, slope, np.abs(u) - mw

    def lips(u, v):
        my, top, bottom, slope, d_x = mouth_parts(u, v)
        d_y = np.maximum(top - half - my, my - bottom - half) / slope
        return np.sqrt(np.maximum(d_x, 0) ** 2 + np.maximum(d_y, 0) ** 2) + np.minimum(np.maximum(d_x, d_y), 0)

    def inside(u, v):
        my, top, bottom, slope, d_x = mouth_parts(u, v)
        return np.maximum(np.maximum(top - my, my - bottom) / slope, d_x + 0.8)

    def teeth(u, v):
        my, top, bottom, _, _ = mouth_parts(u, v)
        return np.maximum(inside(u, v), my - (top + (bottom - top) * e["teeth"]))

    # Bound of the mouth over all frames: corners move by the lift and the one-sided raise,
    # the middle opens by "open".
    reach_up = float(np.max(np.maximum(lift, 0) + e["asym"] + e["open"] * e["up"])) + half + 0.5
    reach_down = float(np.max(np.maximum(-lift, 0) + e["open"] * (1 - e["up"]))) + half + 0.5
    box = (-float(mw.max()) - 0.5, float(mw.max()) + 0.5, float(mouth_y.min()) - reach_up, float(mouth_y.max()) + reach_down)
    cv.paint(box, lips, idt.lip_color)
    if e["open"].max() > 0:
        cv.paint(box, inside, (70, 20, 25))
        cv.paint(box, teeth, (245, 245, 235))


def render_clip(identity: Identity, expression: str, take, frames: int = protocol.CLIP_FRAMES,
                size: int = protocol.SIZE) -> np.ndarray:
    """Render one take of ``identity`` performing ``expression``: uint8 ``frames x size x size x 3``.

    ``take`` is a :class:`Take` or a ``numpy.random.Generator`` to draw one from (:func:`sample_take`),
    so the same identity, expression and generator state always give the same pixels.
    """
    if expression not in APEX:
        raise DatasetError(f"synthetic: unknown expression {expression!r} (expressions: {', '.join(EXPRESSIONS)})")
    if isinstance(take, np.random.Generator):
        take = sample_take(take, frames)
    if len(take.intensity) != frames:
        raise DatasetError(f"synthetic: take has {len(take.intensity)} frames, asked for {frames}")
    idt = identity
    px = 64.0 / size  # all lengths are in pixels of a 64x64 frame
    grid = (np.arange(size, dtype=np.float32) + 0.5) * px
    gx, gy = grid[None, None, :], grid[None, :, None]

    # Static background: a vertical gradient between two identity colours, and the shirt.
    top, bot = np.asarray(idt.background, np.float32), np.asarray(idt.background2, np.float32)
    ramp = (grid / 64.0)[:, None, None]
    img = np.broadcast_to((top + ramp * (bot - top)).transpose(2, 0, 1)[:, None], (3, frames, size, size)).copy()
    _paint(img, _cov(_ellipse(gx, gy, 32.0, 68.0, idt.face_w * 1.75, 15.0), px), idt.shirt)

    cv = _Canvas(img, gx, gy, idt, take, px)
    _draw_head(cv, idt)
    _draw_features(cv, idt, _controls(expression, take), take)
    return np.ascontiguousarray(np.clip(img + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 3, 0))


# --- the dataset ---------------------------------------------------------------------------

@DATASETS.register("synthetic")
class SyntheticFaces(VideoDataset):
    """Cartoon faces performing the MUG expressions, rendered on the fly from the seed.

    Options: ``identities`` (default 60) and ``takes`` (default 3). Identities split 48/12.
    """

    name = "synthetic"
    labels = list(EXPRESSIONS)
    frame_step = 1
    split_subjects = (48, 12)
    flip_train = False
    face_crop = False
    user_supplied = False
    faces = True  # identity metrics (ACD) apply: cartoon faces
    default_extractor = "synthetic-probe"  # ResNeXt-101 on Kinetics means little on cartoons
    layout_help = "built in: rendered from the seed, nothing to download"
    option_schema = Schema(
        Option("identities", "int", 60, min=2, help="number of cartoon identities (subjects)"),
        Option("takes", "int", 3, min=1, help="takes per identity and expression"),
    )

    def __init__(self, data_root=None, cache_dir=None, seed: int = 0, identities: int | None = None,
                 takes: int | None = None, **options):
        super().__init__(data_root=data_root, cache_dir=cache_dir, seed=seed, identities=identities, takes=takes,
                         **options)
        self.n_identities = self.options["identities"]
        self.n_takes = self.options["takes"]
        self._identities: dict[str, Identity] = {}

    def subject_ids(self) -> list[str]:
        return [f"id{i:03d}" for i in range(self.n_identities)]

    def identity(self, subject: str) -> Identity:
        """The seeded attributes of identity ``subject`` (e.g. ``"id017"``)."""
        if subject not in self._identities:
            if subject not in self.subject_ids():
                raise DatasetError(f"synthetic: unknown identity {subject!r} (id000..id{self.n_identities - 1:03d})")
            self._identities[subject] = sample_identity(protocol.rng_for(self.seed, self.name, "identity", subject))
        return self._identities[subject]

    def discover(self) -> list[VideoRecord]:
        recs = []
        for subject in self.subject_ids():
            for label, expr in enumerate(EXPRESSIONS):
                for take in range(1, self.n_takes + 1):
                    recs.append(VideoRecord(
                        video_id=f"{subject}_{expr}_t{take}", subject=subject, label=label,
                        source=f"synthetic:{subject}/{expr}/take{take}", extra=(("take", take),)))
        return recs

    def take_rng(self, record: VideoRecord) -> np.random.Generator:
        """The generator of a take's timing, blinks and motion."""
        return protocol.rng_for(self.seed, self.name, "take", record.video_id)

    def read_raw(self, record: VideoRecord) -> np.ndarray:
        return render_clip(self.identity(record.subject), EXPRESSIONS[record.label], self.take_rng(record))

    def num_frames(self, record: VideoRecord) -> int:
        return protocol.CLIP_FRAMES
