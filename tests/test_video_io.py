import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from vbench_i2v.errors import VideoError
from vbench_i2v.video_io import list_videos, read_image, read_video, write_video


def test_png_folder_round_trip_is_exact(tmp_path, video):
    out = write_video(tmp_path / "clip", video)
    assert out.is_dir() and len(list(out.glob("*.png"))) == 32
    np.testing.assert_array_equal(read_video(out), video)


def test_npz_round_trip_is_exact(tmp_path, video):
    np.testing.assert_array_equal(read_video(write_video(tmp_path / "c.npz", video)), video)


def test_mp4_round_trip_above_35db(tmp_path, video):
    back = read_video(write_video(tmp_path / "c.mp4", video))
    assert back.shape == video.shape and back.dtype == np.uint8
    assert peak_signal_noise_ratio(video, back, data_range=255) > 35


def test_gif_round_trip(tmp_path, video):
    back = read_video(write_video(tmp_path / "c.gif", video))
    assert back.shape == video.shape
    assert peak_signal_noise_ratio(video, back, data_range=255) > 25  # 256-colour palette


@pytest.mark.parametrize("ext", [".avi", ".mkv", ".mov", ".webm"])
def test_reads_other_containers(tmp_path, video, ext):
    import av

    codec = {".webm": "libvpx-vp9"}.get(ext, "mpeg4")
    path = tmp_path / f"c{ext}"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=8)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        for fr in video:
            for p in s.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    back = read_video(path)
    assert back.shape == video.shape
    assert peak_signal_noise_ratio(video, back, data_range=255) > 25


def test_grayscale_and_rgba_frames_are_converted(tmp_path, video):
    gray = tmp_path / "gray"
    rgba = tmp_path / "rgba"
    gray.mkdir()
    rgba.mkdir()
    for i, fr in enumerate(video[:4]):
        Image.fromarray(fr[..., 0]).save(gray / f"{i:03d}.png")
        Image.fromarray(np.dstack([fr, np.full(fr.shape[:2], 128, np.uint8)])).save(rgba / f"{i:03d}.png")
    g = read_video(gray)
    assert g.shape == (4, 64, 64, 3) and (g[..., 0] == g[..., 2]).all()
    np.testing.assert_array_equal(g[..., 1], video[:4, ..., 0])
    np.testing.assert_array_equal(read_video(rgba), video[:4])


def test_read_image_takes_a_png_or_first_frame(tmp_path, video):
    Image.fromarray(video[0]).save(tmp_path / "im.png")
    np.testing.assert_array_equal(read_image(tmp_path / "im.png"), video[0])
    np.testing.assert_array_equal(read_image(write_video(tmp_path / "v.npz", video)), video[0])


def test_corrupt_empty_missing_and_unknown_files_name_the_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 100)
    (tmp_path / "x.txt").write_text("hi")
    (tmp_path / "nofr").mkdir()
    for name, words in [("empty.mp4", "empty"), ("junk.mp4", "cannot decode"), ("missing.mp4", "no such"),
                        ("x.txt", "unsupported"), ("nofr", "no .png")]:
        with pytest.raises(VideoError) as err:
            read_video(tmp_path / name)
        msg = str(err.value)
        assert name in msg and words in msg and "\n" not in msg


def test_truncated_mp4_is_a_clear_error(tmp_path, video):
    p = write_video(tmp_path / "c.mp4", video)
    data = p.read_bytes()
    (tmp_path / "trunc.mp4").write_bytes(data[: len(data) // 3])
    try:
        back = read_video(tmp_path / "trunc.mp4")
    except VideoError as exc:
        assert "trunc.mp4" in str(exc)
    else:  # a decoder may recover the first frames; then they must still be well-formed
        assert back.ndim == 4 and back.shape[1:] == (64, 64, 3)


def test_frames_of_different_sizes_are_refused(tmp_path, video):
    d = tmp_path / "mixed"
    d.mkdir()
    Image.fromarray(video[0]).save(d / "0.png")
    Image.fromarray(video[0][:32]).save(d / "1.png")
    with pytest.raises(VideoError, match="differ in size"):
        read_video(d)


def test_write_refuses_bad_frames_and_is_atomic(tmp_path, video):
    with pytest.raises(VideoError):
        write_video(tmp_path / "bad.mp4", video.astype(np.float32))
    with pytest.raises(VideoError):
        write_video(tmp_path / "bad.xyz", video)
    write_video(tmp_path / "ok.mp4", video)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.mp4"]  # no temp files left


def test_list_videos_finds_files_and_frame_folders(tmp_path, video):
    write_video(tmp_path / "a" / "x.mp4", video[:4])
    write_video(tmp_path / "b" / "y", video[:4])
    write_video(tmp_path / "z.gif", video[:4])
    (tmp_path / "notes.txt").write_text("x")
    names = [p.relative_to(tmp_path).as_posix() for p in list_videos(tmp_path)]
    assert names == ["a/x.mp4", "b/y", "z.gif"]


def test_written_files_have_ordinary_permissions(tmp_path, video):
    import os

    mask = os.umask(0o022)
    try:
        for name in ("c.mp4", "c.gif", "c.npz"):
            assert (write_video(tmp_path / name, video[:2]).stat().st_mode & 0o777) == 0o644
        assert (write_video(tmp_path / "frames", video[:2]).stat().st_mode & 0o777) == 0o755
    finally:
        os.umask(mask)
