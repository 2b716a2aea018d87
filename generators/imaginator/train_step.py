"""One ImaGINator training step: D_V (+ D_I) update and G update, in the config's ``update_order``.

Losses are BCE-with-logits. The ``paper`` preset follows Algorithm 1: D_V also sees real clips
with a wrong label as negatives, ``0.5 * [BCE(real, wrong label -> 0) + BCE(fake -> 0)]``; the
reconstruction term is the summed L1 per clip (averaged over the batch) times 1e-3. The
``released`` preset follows the released code: no wrong-label term, L1 as a mean times 100.
D_I sees one random frame of each real and each generated clip. ``adv_weight`` scales G's
adversarial terms; at 0 the step is plain L1 regression and the discriminators are not updated
(their logged losses read 0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def random_frames(video: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Frame ``index[b]`` of each clip: B x 3 x T x H x W -> B x 3 x H x W."""
    return video[torch.arange(video.shape[0], device=video.device), :, index]


def wrong_labels(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """A different class for every sample, uniformly among the other K-1."""
    shift = torch.randint(1, num_classes, labels.shape, device=labels.device)
    return (labels + shift) % num_classes


def video_logits(d_v, video, labels, aux: bool):
    """D_V(ac) returns B x (1+K): split into the real/fake logit and class logits."""
    out = d_v(video, labels)
    return (out[:, 0], out[:, 1:]) if aux else (out, None)


def train_step(model, batch, state) -> dict[str, float]:
    """One step of ``model`` on ``batch``; networks, optimisers and autocast come from ``state``
    (a :class:`~vbench_i2v.generators.base.StepState`, owned by the training loop)."""
    cfg, nets, opt = model.config, state.nets, state.optimizers
    g, d_v, d_i = nets["G"], nets["D_V"], nets["D_I"] if "D_I" in nets else None
    real, image, labels = batch.video, batch.image, batch.label
    aux = cfg.d_video == "aux-classifier" and model.num_classes > 0
    b = real.shape[0]
    z = model.sample_z(b)
    frame_idx = torch.randint(0, real.shape[2], (b,), device=real.device)

    with state.autocast():
        fake = g(image, labels, z)

    if cfg.adv_weight == 0:
        return l1_only_step(cfg, opt, fake, real)

    def update_d():
        opt["D"].zero_grad(set_to_none=True)
        with state.autocast():
            real_logit, real_cls = video_logits(d_v, real, labels, aux)
            fake_logit, _ = video_logits(d_v, fake.detach(), labels, aux)
            loss_dv_real, loss_dv_fake = bce(real_logit, True), bce(fake_logit, False)
            if cfg.wrong_label and model.num_classes > 1 and not aux:
                wrong_logit, _ = video_logits(d_v, real, wrong_labels(labels, model.num_classes), aux)
                loss_dv_fake = 0.5 * (bce(wrong_logit, False) + loss_dv_fake)
            loss_d = loss_dv_real + loss_dv_fake
            if aux:
                loss_d = loss_d + F.cross_entropy(real_cls.float(), labels)
            if d_i is not None:
                loss_di = bce(d_i(random_frames(real, frame_idx)), True) + \
                    bce(d_i(random_frames(fake.detach(), frame_idx)), False)
                loss_d = loss_d + loss_di
        loss_d.backward()
        opt["D"].step()
        return loss_d, real_logit

    def update_g():
        opt["G"].zero_grad(set_to_none=True)
        with state.autocast():
            fake_logit, fake_cls = video_logits(d_v, fake, labels, aux)
            loss_adv = bce(fake_logit, True)
            if aux:
                loss_adv = loss_adv + F.cross_entropy(fake_cls.float(), labels)
            if d_i is not None:
                loss_adv = loss_adv + bce(d_i(random_frames(fake, frame_idx)), True)
            diff = (fake.float() - real.float()).abs()
            l1 = diff.mean() if cfg.l1_mean else diff.flatten(1).sum(1).mean()
            loss_g = cfg.adv_weight * loss_adv + cfg.l1_weight * l1
        loss_g.backward()
        opt["G"].step()
        return loss_g, loss_adv, diff, fake_logit

    # "d-first" (Algorithm 1): D steps on the fake clips, then G against the updated D.
    # "g-first" (the released trainer): G steps against the current D, then D steps on the same
    # fake clips (generated before G's step, detached).
    if cfg.update_order == "g-first":
        loss_g, loss_adv, diff, fake_logit = update_g()
        loss_d, real_logit = update_d()
    else:
        loss_d, real_logit = update_d()
        loss_g, loss_adv, diff, fake_logit = update_g()

    out = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "loss_g_adv": loss_adv.item(),
           "l1": diff.mean().item(), "d_real": torch.sigmoid(real_logit.float()).mean().item(),
           "d_fake": torch.sigmoid(fake_logit.float()).mean().item()}
    return out


def l1_only_step(cfg, opt, fake, real) -> dict[str, float]:
    """The ``adv_weight == 0`` step: G minimises the weighted L1 alone (same log columns)."""
    opt["G"].zero_grad(set_to_none=True)
    diff = (fake.float() - real.float()).abs()
    l1 = diff.mean() if cfg.l1_mean else diff.flatten(1).sum(1).mean()
    loss_g = cfg.l1_weight * l1
    loss_g.backward()
    opt["G"].step()
    return {"loss_d": 0.0, "loss_g": loss_g.item(), "loss_g_adv": 0.0, "l1": diff.mean().item(),
            "d_real": 0.0, "d_fake": 0.0}
