"""One VGAN training step: D update, then G update (cvondrick/videogan, plus docs/models.md, "Baselines").

Adversarial losses are BCE-with-logits on one logit per clip (the published two-way softmax is
the same thing). G also pays ``mask_weight`` times the mean of its mask (L1 sparsity: the mask is
in [0, 1], so this is its mean absolute value), which pushes static content into the background
stream. Image-to-video mode adds the "future generation" term, L1 between the input frame and the
generated first frame (``first_frame_weight``), and ImaGINator's clip reconstruction term
(``l1_weight``); both use the same reduction (mean, or summed per clip/frame and averaged over
the batch, ``l1_mean``) as the ImaGINator preset of the same name. Unconditional mode (VGAN as
published): neither term, and D sees no label; ``l1`` is then not logged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def l1_term(fake: torch.Tensor, real: torch.Tensor, mean: bool) -> torch.Tensor:
    """Mean absolute error, or the absolute error summed per sample and averaged over the batch."""
    diff = (fake.float() - real.float()).abs()
    return diff.mean() if mean else diff.flatten(1).sum(1).mean()


def train_step(model, batch, state) -> dict[str, float]:
    """One step of ``model`` on ``batch``; networks, optimisers and autocast come from ``state``
    (a :class:`~vbench_i2v.generators.base.StepState`, owned by the training loop)."""
    cfg, nets, opt = model.config, state.nets, state.optimizers
    g, d = nets["G"], nets["D"]
    real, image = batch.video, batch.image
    labels = batch.label if model.num_classes else None
    conditional = cfg.mode == "i2v"
    z = model.sample_z(real.shape[0])

    with state.autocast():
        fake, mask = g(image, labels, z, with_mask=True)

    # --- discriminator --------------------------------------------------------------------
    opt["D"].zero_grad(set_to_none=True)
    with state.autocast():
        real_logit = d(real, labels)
        fake_logit = d(fake.detach(), labels)
        loss_d = bce(real_logit, True) + bce(fake_logit, False)
    loss_d.backward()
    opt["D"].step()

    # --- generator ------------------------------------------------------------------------
    opt["G"].zero_grad(set_to_none=True)
    with state.autocast():
        fake_logit = d(fake, labels)
        loss_adv = bce(fake_logit, True)
        loss_mask = mask.float().mean()
        loss_g = loss_adv + cfg.mask_weight * loss_mask
        if conditional:
            l1_first = l1_term(fake[:, :, 0], image, cfg.l1_mean)
            l1_clip = l1_term(fake, real, cfg.l1_mean)
            loss_g = loss_g + cfg.first_frame_weight * l1_first + cfg.l1_weight * l1_clip
    loss_g.backward()
    opt["G"].step()

    out = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "loss_g_adv": loss_adv.item(),
           "mask_mean": loss_mask.item(), "d_real": torch.sigmoid(real_logit.float()).mean().item(),
           "d_fake": torch.sigmoid(fake_logit.float()).mean().item()}
    if conditional:
        out["l1"] = (fake.detach().float() - real.float()).abs().mean().item()
        out["l1_first_frame"] = (fake.detach()[:, :, 0].float() - image.float()).abs().mean().item()
    return out
