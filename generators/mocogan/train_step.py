"""One MoCoGAN training step: D_I + D_V update, then G update (sergeytulyakov/mocogan trainers.py).

Losses are BCE-with-logits for real/fake and cross-entropy for the category, as published:
D_V learns the class of real clips; G is asked to make clips whose class D_V reads as the label
it was given (the InfoGAN-style term). D_I sees ``image_batch`` random frames of the batch's real
clips and of the generated clips. Image-to-video mode adds ImaGINator's reconstruction term
(``l1_weight``, mean or per-clip sum, as in the ImaGINator preset of the same name) between the
generated clip and the real clip whose first frame conditioned it, so the comparison isolates the
architecture. Unconditional mode (MoCoGAN as published): content from noise, labels sampled
uniformly, no reconstruction term (there is no paired real clip), so ``l1`` is not logged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def random_frames(video: torch.Tensor, clips: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Frames ``video[clips[i], :, times[i]]``: B x 3 x T x H x W -> N x 3 x H x W."""
    return video[clips, :, times]


def l1_term(fake: torch.Tensor, real: torch.Tensor, mean: bool) -> torch.Tensor:
    """Mean absolute error, or the absolute error summed per clip and averaged over the batch."""
    diff = (fake.float() - real.float()).abs()
    return diff.mean() if mean else diff.flatten(1).sum(1).mean()


def train_step(model, batch, state) -> dict[str, float]:
    """One step of ``model`` on ``batch``; networks, optimisers and autocast come from ``state``
    (a :class:`~vbench_i2v.generators.base.StepState`, owned by the training loop)."""
    cfg, nets, opt = model.config, state.nets, state.optimizers
    g, d_i, d_v = nets["G"], nets["D_I"], nets["D_V"]
    real, image = batch.video, batch.image
    b, t, k = real.shape[0], real.shape[2], model.num_classes
    conditional = cfg.mode == "i2v"
    labels = batch.label if k else None
    gen_labels = labels if conditional or not k else torch.randint(0, k, (b,), device=real.device)
    z = model.sample_z(b)
    n = cfg.image_batch
    real_pick = (torch.randint(0, b, (n,), device=real.device), torch.randint(0, t, (n,), device=real.device))
    fake_pick = (torch.randint(0, b, (n,), device=real.device), torch.randint(0, t, (n,), device=real.device))

    with state.autocast():
        fake = g(image, gen_labels, z)

    # --- discriminators (one Adam over D_I and D_V: their parameters are disjoint) ----------
    opt["D"].zero_grad(set_to_none=True)
    with state.autocast():
        loss_di = bce(d_i(random_frames(real, *real_pick)), True) + \
            bce(d_i(random_frames(fake.detach(), *fake_pick)), False)
        real_logit, real_cls = d_v(real)
        fake_logit, _ = d_v(fake.detach())
        loss_dv = bce(real_logit, True) + bce(fake_logit, False)
        loss_cls_real = F.cross_entropy(real_cls.float(), labels) if k else real_logit.new_zeros(())
        loss_d = loss_di + loss_dv + loss_cls_real
    loss_d.backward()
    opt["D"].step()

    # --- generator ------------------------------------------------------------------------
    opt["G"].zero_grad(set_to_none=True)
    with state.autocast():
        fake_logit, fake_cls = d_v(fake)
        loss_adv = bce(d_i(random_frames(fake, *fake_pick)), True) + bce(fake_logit, True)
        loss_cls_fake = F.cross_entropy(fake_cls.float(), gen_labels) if k else fake_logit.new_zeros(())
        loss_g = loss_adv + loss_cls_fake
        if conditional:
            l1 = l1_term(fake, real, cfg.l1_mean)
            loss_g = loss_g + cfg.l1_weight * l1
    loss_g.backward()
    opt["G"].step()

    out = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "loss_d_image": loss_di.item(),
           "loss_d_video": loss_dv.item(), "loss_g_adv": loss_adv.item(),
           "loss_cls_real": loss_cls_real.item(), "loss_cls_fake": loss_cls_fake.item(),
           "d_real": torch.sigmoid(real_logit.float()).mean().item(),
           "d_fake": torch.sigmoid(fake_logit.float()).mean().item()}
    if conditional:
        out["l1"] = (fake.detach().float() - real.float()).abs().mean().item()
    return out
