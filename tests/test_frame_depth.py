"""Frames are read at their real depth (issue 19): 16-bit PNG/TIFF and 10-bit video are scaled to
8 bits by round(v * 255 / 65535), never clipped; greyscale, palette and alpha frames are converted
by the rules of docs/caching-and-inputs.md. Every expectation is computed here from the arrays the
test wrote (numpy), never by the reader under test; the 16-bit PNGs are written by a minimal PNG
encoder written here from the PNG specification, so neither PIL nor FFmpeg makes the test files.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vbench_i2v.errors import VideoError
from vbench_i2v.video_io import (ALPHA_DROPPED, GREY_TO_RGB, PALETTE_TO_RGB, SCALED_16, read_image, read_video,
                                 scale_to_8bit)

RNG = np.random.default_rng(19)


def write_png(path: Path, arr, color_type: int, bit_depth: int, palette=None, trns=None) -> Path:
    """A PNG from the spec (ISO/IEC 15948): IHDR, optional PLTE/tRNS, one IDAT of filter-0 rows, IEND.

    ``color_type``: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. 16-bit samples are big-endian;
    1/2/4-bit samples (grey or palette) are packed most significant bits first.
    """
    arr = np.asarray(arr)
    h, w = arr.shape[:2]
    if bit_depth == 16:
        rows = arr.astype(">u2").reshape(h, -1).view(np.uint8)
    elif bit_depth == 8:
        rows = arr.astype(np.uint8).reshape(h, -1)
    else:
        per = 8 // bit_depth
        a = np.pad(arr.astype(np.uint8).reshape(h, w), ((0, 0), (0, (-w) % per))).reshape(h, -1, per)
        rows = np.zeros(a.shape[:2], np.uint8)
        for i in range(per):
            rows |= a[:, :, i] << (8 - bit_depth * (i + 1))
    raw = b"".join(b"\x00" + r.tobytes() for r in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    path.write_bytes(out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def expect_8bit(v16: np.ndarray) -> np.ndarray:
    """The stated rule in float64: v * 255 / 65535 = v / 257, never a tie (257 is odd)."""
    return np.round(v16.astype(np.float64) * 255.0 / 65535.0).astype(np.uint8)


# ------------------------------------------------------------------ the rescale itself

def test_scale_to_8bit_is_the_exact_rescale_for_every_16bit_value():
    v = np.arange(65536, dtype=np.uint16)
    np.testing.assert_array_equal(scale_to_8bit(v), expect_8bit(v))
    u = np.arange(256, dtype=np.uint16)
    np.testing.assert_array_equal(scale_to_8bit(u * 257), u)  # an 8-bit value widened comes back
    assert scale_to_8bit(np.array([65535], np.uint16))[0] == 255  # full scale is not clipped below
    assert scale_to_8bit(np.array([256], np.uint16))[0] == 1  # clipping would give 255


# ------------------------------------------------------------------ 16-bit PNG and TIFF

@pytest.mark.parametrize("color_type, channels", [(0, 1), (2, 3), (4, 2), (6, 4)],
                         ids=["grey16", "rgb16", "grey-alpha16", "rgba16"])
def test_16bit_png_is_scaled_not_clipped(tmp_path, color_type, channels):
    v = RNG.integers(0, 65536, (9, 11, channels)).astype(np.uint16)
    v[0, 0, :] = 65535
    v[0, 1, :] = 0
    if channels in (2, 4):
        v[1, 1, -1] = 0  # some transparency, so the alpha rule is reported
    f = write_png(tmp_path / "f.png", v[..., 0] if channels == 1 else v, color_type, 16)
    conv: list[str] = []
    got = read_image(f, conv)
    colour = v[..., :-1] if channels in (2, 4) else v  # alpha dropped
    want = expect_8bit(colour)
    if want.shape[-1] == 1:
        want = np.repeat(want, 3, axis=-1)  # grey replicated
    np.testing.assert_array_equal(got, want)
    assert SCALED_16 in conv
    assert (GREY_TO_RGB in conv) == (channels in (1, 2))
    assert (ALPHA_DROPPED in conv) == (channels in (2, 4))


def _frame_folder_16bit(folder: Path, clip8: np.ndarray, grey: bool = False) -> Path:
    folder.mkdir()
    for i, fr in enumerate(clip8.astype(np.uint16) * 257):
        write_png(folder / f"{i:03d}.png", fr[..., 0] if grey else fr, 0 if grey else 2, 16)
    return folder


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # skimage's PSNR of identical images
def test_16bit_copy_of_an_8bit_clip_reads_back_identical(tmp_path):
    """The issue's case: the same clip saved as 16-bit scored 2.2 dB against its 8-bit copy."""
    from skimage.metrics import peak_signal_noise_ratio

    from vbench_i2v.metrics.pixel import PSNR_IDENTICAL_DB, psnr_video

    clip8 = RNG.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    clip8[0, 0, 0] = 255  # full scale present
    rgb16 = _frame_folder_16bit(tmp_path / "rgb16", clip8)
    grey16 = _frame_folder_16bit(tmp_path / "grey16", clip8, grey=True)
    conv: list[str] = []
    got = read_video(rgb16, conv)
    np.testing.assert_array_equal(got, clip8)
    assert conv == [SCALED_16]
    assert peak_signal_noise_ratio(clip8, got, data_range=255) == np.inf  # skimage: identical images
    assert psnr_video(got[None], clip8[None])[0] == pytest.approx(PSNR_IDENTICAL_DB)
    np.testing.assert_array_equal(read_video(grey16), np.repeat(clip8[..., :1], 3, axis=-1))


def test_16bit_tiff_is_scaled(tmp_path):
    tifffile = pytest.importorskip("tifffile")  # installed with scikit-image (the test extra)
    v = RNG.integers(0, 65536, (7, 5, 4)).astype(np.uint16)
    cases = {"rgb.tif": (v[..., :3], expect_8bit(v[..., :3])),
             "grey.tif": (v[..., 0], np.repeat(expect_8bit(v[..., :1]), 3, axis=-1)),
             "rgba.tif": (v, expect_8bit(v[..., :3]))}
    for name, (data, want) in cases.items():
        tifffile.imwrite(tmp_path / name, data)
        conv: list[str] = []
        np.testing.assert_array_equal(read_image(tmp_path / name, conv), want, err_msg=name)
        assert SCALED_16 in conv


@pytest.mark.parametrize("dtype, words", [(np.float32, "floating-point"), (np.int16, "signed"),
                                          (np.uint32, "32-bit")], ids=["float32", "int16", "uint32"])
def test_samples_without_an_8bit_scale_are_refused_naming_the_file(tmp_path, dtype, words):
    tifffile = pytest.importorskip("tifffile")
    folder = tmp_path / "clip"
    folder.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "000.png")
    tifffile.imwrite(folder / "001.tif", np.arange(16, dtype=dtype).reshape(4, 4))
    with pytest.raises(VideoError) as info:
        read_video(folder)
    msg = str(info.value)
    assert msg.startswith(f"{folder / '001.tif'}: ") and words in msg and "\n" not in msg


# ------------------------------------------------------------------ greyscale, palette, alpha (8-bit and less)

def test_greyscale_frames_are_replicated(tmp_path):
    g8 = RNG.integers(0, 256, (6, 9), dtype=np.uint8)
    Image.fromarray(g8, "L").save(tmp_path / "l.png")
    g2 = RNG.integers(0, 4, (6, 9))
    write_png(tmp_path / "g2.png", g2, 0, 2)  # 2-bit grey: 0..3 scaled to 0..255 (x 85, PNG spec)
    g1 = RNG.integers(0, 2, (6, 9))
    write_png(tmp_path / "g1.png", g1, 0, 1)  # 1-bit: 0 -> 0, 1 -> 255
    for name, grey in (("l.png", g8), ("g2.png", (g2 * 85).astype(np.uint8)), ("g1.png", (g1 * 255).astype(np.uint8))):
        conv: list[str] = []
        np.testing.assert_array_equal(read_image(tmp_path / name, conv), np.stack([grey] * 3, -1), err_msg=name)
        assert conv == [GREY_TO_RGB], name


def test_palette_frames_are_looked_up_in_their_palette(tmp_path):
    pal = RNG.integers(0, 256, (16, 3), dtype=np.uint8)
    idx8 = RNG.integers(0, 16, (6, 9))
    idx2 = RNG.integers(0, 4, (6, 9))
    idxt = RNG.integers(0, 16, (6, 9))
    idxt[0, 0] = 1
    write_png(tmp_path / "p8.png", idx8, 3, 8, palette=pal)
    write_png(tmp_path / "p2.png", idx2, 3, 2, palette=pal[:4])  # 2-bit indices, packed
    write_png(tmp_path / "p8t.png", idxt, 3, 8, palette=pal, trns=[255, 0])  # index 1 fully transparent
    for name, idx, alpha in (("p8.png", idx8, False), ("p2.png", idx2, False), ("p8t.png", idxt, True)):
        conv: list[str] = []
        np.testing.assert_array_equal(read_image(tmp_path / name, conv), pal[idx], err_msg=name)
        assert PALETTE_TO_RGB in conv and (ALPHA_DROPPED in conv) == alpha, (name, conv)


def test_alpha_is_dropped_keeping_the_stored_colour(tmp_path):
    rgba = RNG.integers(0, 256, (6, 9, 4), dtype=np.uint8)
    rgba[0, 0, 3] = 0  # a transparent pixel keeps its stored colour (no compositing)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    la = RNG.integers(0, 256, (6, 9, 2), dtype=np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    conv: list[str] = []
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png", conv), rgba[..., :3])
    assert conv == [ALPHA_DROPPED]
    conv = []
    np.testing.assert_array_equal(read_image(tmp_path / "la.png", conv), np.repeat(la[..., :1], 3, axis=-1))
    assert sorted(conv) == sorted([ALPHA_DROPPED, GREY_TO_RGB])
    opaque = rgba.copy()
    opaque[..., 3] = 255
    Image.fromarray(opaque, "RGBA").save(tmp_path / "opaque.png")
    conv = []
    np.testing.assert_array_equal(read_image(tmp_path / "opaque.png", conv), rgba[..., :3])
    assert conv == []  # nothing was lost, nothing to record


def test_plain_rgb_frames_report_no_conversion(tmp_path):
    clip = RNG.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    (tmp_path / "c").mkdir()
    for i, fr in enumerate(clip):
        Image.fromarray(fr).save(tmp_path / "c" / f"{i}.png")
    conv: list[str] = []
    np.testing.assert_array_equal(read_video(tmp_path / "c", conv), clip)
    assert conv == []


def test_npz_channels_follow_the_same_rules(tmp_path):
    grey = RNG.integers(0, 256, (2, 5, 5), dtype=np.uint8)
    np.savez(tmp_path / "g.npz", video=grey)
    conv: list[str] = []
    np.testing.assert_array_equal(read_video(tmp_path / "g.npz", conv), np.stack([grey] * 3, -1))
    assert conv == [GREY_TO_RGB]
    np.savez(tmp_path / "w.npz", video=grey.astype(np.uint16) * 257)
    with pytest.raises(VideoError, match=r"w\.npz: frames must be uint8, got uint16"):
        read_video(tmp_path / "w.npz")  # the suite's own format is 8-bit: refused, not guessed


def test_frames_without_pixels_are_refused(tmp_path):
    np.savez(tmp_path / "flat.npz", video=np.zeros((3, 0, 5, 3), np.uint8))
    with pytest.raises(VideoError, match=r"flat\.npz: the frames have no pixels \(0 x 5\)"):
        read_video(tmp_path / "flat.npz")  # (was a PIL ValueError when a loader resized them)


# ------------------------------------------------------------------ 10-bit video

def _ten_bit_codec():
    """libx264 lossless (qp 0, High 4:4:4 Predictive) at yuv420p10le where this FFmpeg build has a
    high-bit-depth x264, else ffv1 (lossless, 10-bit capable); None if neither encodes 10-bit."""
    from fractions import Fraction

    import av

    for codec, opts in (("libx264", {"qp": "0"}), ("ffv1", {})):
        try:
            ctx = av.CodecContext.create(codec, "w")
            ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 16, 16, "yuv420p10le", Fraction(1, 8)
            ctx.options = opts
            ctx.open()  # an 8-bit-only x264 refuses yuv420p10le here
            return codec, opts
        except Exception:  # noqa: BLE001 - this build cannot encode 10-bit with it
            continue
    return None


def test_10bit_video_decodes_to_8bit_close_to_its_source(tmp_path):
    import av

    found = _ten_bit_codec()
    if found is None:
        pytest.skip("this PyAV/FFmpeg build has no 10-bit encoder (libx264 high bit depth or ffv1)")
    codec, opts = found
    # Four flat colour blocks per frame, their order changing over time: inside a block the chroma is
    # constant, so 4:2:0 subsampling (and its interpolation back) loses nothing there.
    colours = np.array([[[200, 30, 40], [20, 180, 60]], [[40, 50, 220], [250, 240, 10]]], np.uint8)
    clip = np.stack([np.kron(np.roll(colours, t, axis=t % 2), np.ones((16, 16, 1), np.uint8)) for t in range(8)])
    path = tmp_path / "ten.mkv"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=8)
        s.width, s.height, s.pix_fmt, s.options = 32, 32, "yuv420p10le", opts
        for fr in clip:
            for p in s.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p10le"
    conv: list[str] = []
    got = read_video(path, conv)
    assert got.shape == clip.shape and got.dtype == np.uint8
    assert conv == ["10-bit video (yuv420p10le) scaled to 8 bits: decoded to 16-bit RGB by FFmpeg, "
                    "then round(v * 255 / 65535)"]
    # Tolerance, away from the block edges (4 px: swscale's bicubic chroma filter reaches 2 samples at
    # half resolution): both codecs are lossless here, so the only errors are the 10-bit quantisation
    # of Y'CbCr (half a code: 0.5 * 255 / 876 = 0.15 of an 8-bit step for Y', 0.14 for Cb/Cr), at
    # most 0.15 + 1.86 * 0.14 < 0.42 step after the BT.601/709 matrix (largest coefficient 1.86),
    # plus the final rounding to 8 bits (0.5 step): |error| < 1 step, so the integers differ by <= 1.
    # (Reading rgb24 straight from FFmpeg's 8-bit conversion gives 2 here; clipping 10-bit codes at
    # 255 would be off by up to 200.)
    inner = np.ones((32, 32), bool)
    inner[12:20, :] = False
    inner[:, 12:20] = False
    diff = np.abs(got.astype(int) - clip.astype(int))
    assert diff[:, inner].max() <= 1, diff[:, inner].max()


def test_8bit_video_reports_no_conversion(tmp_path, video):
    from vbench_i2v.video_io import write_video

    conv: list[str] = []
    read_video(write_video(tmp_path / "c.mp4", video[:8]), conv)
    assert conv == []


# ------------------------------------------------------------------ end to end: the command

def _score_16bit_copy(tmp_path) -> dict:
    """`vbench metrics --json` of two clips against their 16-bit frame-folder copies."""
    from click.testing import CliRunner

    from vbench_i2v.cli import main

    clip8 = RNG.integers(0, 256, (2, 8, 16, 16, 3), dtype=np.uint8)
    real, fake = tmp_path / "real", tmp_path / "fake"
    real.mkdir()
    fake.mkdir()
    for i, c in enumerate(clip8):
        np.savez(real / f"c{i}.npz", video=c)
        _frame_folder_16bit(fake / f"c{i}", c)
    out = tmp_path / "m.json"
    r = CliRunner().invoke(main, ["metrics", "--real", str(real), "--fake", str(fake), "--metrics", "psnr,ssim",
                                  "--json", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    return json.loads(out.read_text())


def test_metrics_on_a_16bit_frame_folder_equal_the_8bit_clip(tmp_path):
    """`vbench metrics` on a 16-bit copy scores like the 8-bit original against itself."""
    from vbench_i2v.metrics.pixel import PSNR_IDENTICAL_DB

    res = _score_16bit_copy(tmp_path)
    assert res["metrics"]["psnr"]["value"] == pytest.approx(PSNR_IDENTICAL_DB)  # was 2.2 dB (clipped)
    assert res["metrics"]["ssim"]["value"] == pytest.approx(1.0)


def test_the_16bit_conversion_reaches_the_provenance(tmp_path):
    res = _score_16bit_copy(tmp_path)
    conversions = res["provenance"]["conversions"]
    assert any(SCALED_16 in c for c in conversions), conversions
    # each metric's own provenance: the side, the line once, and how many of the clips it hit
    for m in ("psnr", "ssim"):
        assert res["metrics"][m]["provenance"]["conversions"] == [f"fake: {SCALED_16} (2 of 2 clips)"]


def test_conversions_are_recorded_not_identifying(tmp_path):
    """The same numbers measured from 8-bit files (no conversion) carry the same measurement id."""
    from vbench_i2v.metrics.engine import compute_metrics
    from vbench_i2v.metrics.plan import ScorePlan

    res = _score_16bit_copy(tmp_path)
    real = tmp_path / "real"
    plain = compute_metrics(real, real, ScorePlan(metrics=["psnr", "ssim"], device="cpu")).to_json()
    for m in ("psnr", "ssim"):
        assert plain["metrics"][m]["provenance"]["conversions"] == []
        assert plain["metrics"][m]["measurement"] == res["metrics"][m]["measurement"]
