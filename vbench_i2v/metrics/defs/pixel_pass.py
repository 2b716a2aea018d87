"""One pass over a video pair gives SSIM and PSNR of every frame; both metrics read it from here."""

from __future__ import annotations


def pixel_frames(item, ctx) -> dict:
    """``{"ssim", "psnr"}`` means over the scored frames of ``item`` (computed once per video)."""

    def compute():
        from vbench_i2v.metrics.pixel import ssim_psnr_frames

        fake, real = item.fake, item.real
        if fake.shape != real.shape:
            from vbench_i2v.errors import InputError

            raise InputError(f"{item.name}: fake {fake.shape[0]}x{fake.shape[1]}x{fake.shape[2]} and real "
                             f"{real.shape[0]}x{real.shape[1]}x{real.shape[2]} (frames x H x W) differ; "
                             "SSIM/PSNR need equal frame counts and sizes")
        frames = ctx.scored_frames(fake.shape[0], item.name)
        s, p = ssim_psnr_frames(fake[frames], real[frames])
        identical = int((fake[frames] == real[frames]).reshape(len(frames), -1).all(axis=1).sum())
        ctx.count("identical_frames", identical)
        ctx.count("scored_frames", len(frames))
        return {"ssim": float(s[0].mean()), "psnr": float(p[0].mean())}

    return item.memo("pixel", compute)
