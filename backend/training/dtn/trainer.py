"""g and D: the ternary adversarial game with f fixed, one step at a time (``DtnTrainer``)."""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from backend.algorithms.nets.dtn import (
    FAKE_SOURCE,
    FAKE_TARGET,
    REAL_TARGET,
    Discriminator,
    DomainTransfer,
    Encoder,
    Generator,
    build,
    diff_augment,
    tv_loss,
)
from backend.training.dtn.data import as_batch
from backend.training.dtn.options import DtnOptions

log = logging.getLogger(__name__)


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 (Mescheder et al., ICML 2018): mean ‖∇ₓ log D_real(x)‖² over the real targets ``real``.

    Penalising the slope of D's "real" score around the real images keeps D from sharpening
    without bound, which is what makes the adversarial game swing (``real`` must require grad).
    """
    score = real_logits.log_softmax(1)[:, REAL_TARGET].sum()
    (grad,) = torch.autograd.grad(score, real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


class DtnTrainer:
    """One DTN training run's nets and optimisers; :meth:`step` does one D and one g update."""

    def __init__(
        self, f: Encoder, opts: DtnOptions, device: torch.device, head: nn.Linear | None = None
    ) -> None:
        if opts.constancy == "class" and head is None:
            raise ValueError(
                "class constancy needs the head f was pretrained with: let train dtn pretrain f "
                "on a source folder with one sub-folder per class, or use --constancy code"
            )
        self.opts = opts
        self.head = head.to(device).eval().requires_grad_(False) if head is not None else None
        self.device = device
        self.cfg = dataclasses.replace(f.cfg, channels=4 if opts.target_alpha else 3)
        self.tone_map = torch.tensor([1.0, 0.0])
        """(a, b): the tone term pulls G(s)'s skin luminance towards a·(that of s) + b."""
        torch.manual_seed(opts.seed)
        _, g, d = build(self.cfg)
        self.f = f.to(device).eval().requires_grad_(False)
        self.g: Generator = g.to(device)
        self.d: Discriminator = d.to(device)
        betas = (opts.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=opts.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=opts.lr, betas=betas)
        self.step_no = 0
        self.g_ema: Generator | None = None
        self.aug_gen = torch.Generator().manual_seed(opts.seed + 1)
        self.expression_axis: Tensor | None = None
        """Half the difference of f's mean codes of smiling and not-smiling targets
        (:meth:`fit_expression`), for the model's ``Expression``."""
        self.prototype_codes: Tensor | None = None
        """f's codes of the labelled targets g rebuilds best (:meth:`fit_prototypes`), for the
        model's ``Prototypes``."""

    def _d(self, x: Tensor) -> Tensor:
        """D's logits, through DiffAugment when the options ask for it."""
        if self.opts.diff_augment:
            x = diff_augment(x, self.aug_gen)
        return self.d(x)

    def step(self, xs: Tensor, xt: Tensor) -> dict[str, float]:
        """One update on a source batch ``xs`` and a target batch ``xt`` (both in [-1, 1])."""
        o = self.opts
        self.g.train()
        self.d.train()
        with torch.no_grad():
            zs, zt = self.f(xs[:, :3]), self.f(xt[:, :3])
        n_s, n_t = xs.shape[0], xt.shape[0]
        fake = self.g(torch.cat([zs, zt]))

        def labels(n: int, c: int) -> Tensor:
            return torch.full((n,), c, dtype=torch.long, device=self.device)

        out: dict[str, float] = {}
        if o.adversarial:
            out.update(self._d_step(fake, xt))

        for i in range(o.g_steps):
            if i:
                fake = self.g(torch.cat([zs, zt]))
            fake_s, fake_t = fake[:n_s], fake[n_s:]
            # D sees the same mix of fakes and real targets as in its own step: its BatchNorm
            # normalises with batch statistics, and on a batch of fakes alone those statistics
            # differ enough that D calls nearly every fake real, which leaves g no GAN signal.
            gan = torch.zeros((), device=self.device)
            if o.adversarial:
                logits = self._d(torch.cat([fake, xt]))[: n_s + n_t]
                gan = F.cross_entropy(logits, labels(n_s + n_t, REAL_TARGET)) * 2
            const = self._constancy(self.f(self._for_constancy(fake_s[:, :3])), zs)
            tid = F.mse_loss(fake_t, xt)
            loss_g = o.adversarial * gan + o.alpha * const + o.beta * tid
            if o.tone:
                tone = self._tone(fake_s, xs)
                loss_g = loss_g + o.tone * tone
                out["tone"] = tone.item()
            if o.gamma:
                tv = tv_loss(torch.cat([fake_s, fake_t]))
                loss_g = loss_g + o.gamma * tv
                out["tv"] = tv.item()
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
        out.update(gang=gan.item(), const=const.item(), tid=tid.item(), g=loss_g.item())
        self.step_no += 1
        self._track_average()
        return out

    def _for_constancy(self, x: Tensor) -> Tensor:
        """G(s) as f reads it for L_CONST: as is, or with ``robust_constancy`` shifted by up to
        1/16 of the side and blurred (halved and brought back), so fine texture that fools f
        cannot meet the constancy term and g must keep what survives: shapes such as a mouth."""
        if not self.opts.robust_constancy:
            return x
        n, _, h, w = x.shape
        p = max(1, h // 16)
        dy, dx = torch.randint(-p, p + 1, (2, n), generator=self.aug_gen).tolist()
        x = torch.stack(
            [torch.roll(xi, (a, b), (1, 2)) for xi, a, b in zip(x, dy, dx, strict=True)]
        )
        small = F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True)
        return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)

    def _d_step(self, fake: Tensor, xt: Tensor) -> dict[str, float]:
        """One update of D: G(s) is FAKE_SOURCE, G(t) FAKE_TARGET, t REAL_TARGET."""
        o, n_t = self.opts, xt.shape[0]
        n_s = fake.shape[0] - n_t
        real = xt.detach().requires_grad_(True) if o.r1 else xt
        logits = self._d(torch.cat([fake.detach(), real]))
        target = torch.cat(
            [
                torch.full((n,), c, dtype=torch.long, device=self.device)
                for n, c in ((n_s, FAKE_SOURCE), (n_t, FAKE_TARGET), (n_t, REAL_TARGET))
            ]
        )
        loss_d = F.cross_entropy(logits, target) * 3
        out = {"d": loss_d.item()}
        if o.r1:
            penalty = r1_penalty(logits[n_s + n_t :], real)
            loss_d = loss_d + o.r1 / 2 * penalty
            out["r1"] = penalty.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return out

    @torch.no_grad()
    def _track_average(self) -> None:
        """Fold g's weights into the moving average (from step ``ema_start`` on, if ``ema``)."""
        o = self.opts
        if not o.ema or self.step_no < o.ema_start:
            return
        if self.g_ema is None:
            self.g_ema = copy.deepcopy(self.g).requires_grad_(False)
            return
        for avg, live in zip(self.g_ema.parameters(), self.g.parameters(), strict=True):
            avg.lerp_(live, 1 - o.ema)

    @torch.no_grad()
    def averaged_g(self, source: Tensor, target: Tensor, batches: int = 100) -> Generator:
        """The weight-averaged g with BatchNorm statistics measured afresh for those weights.

        The running statistics of the live g belong to the live weights, so they are recomputed
        (a plain mean over ``batches`` mixed source + target batches of uint8 images, as in
        training). Returns a copy in eval mode; the trainer keeps training the live g.
        """
        if self.g_ema is None:
            raise ValueError("no weight average yet: set ema and train past ema_start")
        g = copy.deepcopy(self.g_ema)
        gen = torch.Generator().manual_seed(self.opts.seed + 2)
        n = self.opts.batch

        def codes() -> Iterator[Tensor]:
            for _ in range(batches):
                xs = as_batch(
                    source, torch.randint(0, len(source), (n,), generator=gen), self.device
                )
                xt = as_batch(
                    target, torch.randint(0, len(target), (n,), generator=gen), self.device
                )
                yield torch.cat([self.f(xs[:, :3]), self.f(xt[:, :3])])

        torch.optim.swa_utils.update_bn(codes(), g)  # cumulative mean, momenta restored
        return g.eval()

    def fit_tone(self, source: Tensor, target: Tensor) -> None:
        """Set :attr:`tone_map` so the sources' skin luminances, mapped, have the targets' mean
        and spread (both uint8 image sets; a monotone map, so it keeps their order)."""
        from backend.training.dtn.faces import soft_skin_luminance

        ls = soft_skin_luminance(source.float() / 127.5 - 1)
        lt = soft_skin_luminance(target.float() / 127.5 - 1)
        a = lt.std() / ls.std().clamp_min(1e-6)
        self.tone_map = torch.stack([a, lt.mean() - a * ls.mean()]).float()

    def _encoded(self, target: Tensor) -> Iterator[tuple[Tensor, Tensor]]:
        """(batch of ``target`` in [-1, 1], f's codes of its colour) over all of ``target``."""
        for idx in torch.arange(len(target)).split(256):
            x = as_batch(target, idx, self.device)
            yield x, self.f(x[:, :3])

    @torch.no_grad()
    def fit_expression(self, target: Tensor, smile: Tensor) -> None:
        """Set :attr:`expression_axis` from uint8 ``target`` images and their smile labels
        (1 smiling, 0 not, -1 neither): half the difference of f's mean codes of the two."""
        if self.head is None:
            raise ValueError("expression needs the head f was pretrained with (--f face)")
        if not ((smile == 1).any() and (smile == 0).any()):
            raise ValueError("expression needs targets labelled smiling and not smiling")
        codes = torch.cat([z.flatten(1).cpu() for _, z in self._encoded(target)])
        self.expression_axis = (codes[smile == 1].mean(0) - codes[smile == 0].mean(0)) / 2

    @torch.no_grad()
    def fit_prototypes(self, target: Tensor, smile: Tensor, g: Generator | None = None) -> None:
        """Set :attr:`prototype_codes` from uint8 ``target`` images and their smile labels: f's
        codes of the labelled targets (smile ≥ 0) whose rebuilding by g (the live g, or ``g``)
        has an L1 error within the lowest ``opts.prototypes`` share of all the targets'."""
        if not (smile >= 0).any():
            raise ValueError("prototypes need targets labelled smiling or not smiling")
        g = (g or self.g).eval()
        codes, errors = [], []
        for x, z in self._encoded(target):
            codes.append(z.flatten(1).cpu())
            errors.append((g(z) - x).abs().mean((1, 2, 3)).cpu())
        err = torch.cat(errors)
        keep = (smile >= 0) & (err <= torch.quantile(err, self.opts.prototypes))
        if not keep.any():
            keep = (smile >= 0) & (err == err[smile >= 0].min())
        self.prototype_codes = torch.cat(codes)[keep]

    def _tone(self, fake_s: Tensor, xs: Tensor) -> Tensor:
        """MSE between G(s)'s skin luminance and the mapped skin luminance of s."""
        from backend.training.dtn.faces import soft_skin_luminance

        a, b = self.tone_map.to(xs.device)
        want = a * soft_skin_luminance(xs) + b
        return F.mse_loss(soft_skin_luminance(fake_s), want)

    def _constancy(self, z_fake: Tensor, z_source: Tensor) -> Tensor:
        """L_CONST between f(G(s)) and f(s): code MSE, or CE to the source's class posterior."""
        if self.head is None or self.opts.constancy == "code":
            return F.mse_loss(z_fake, z_source)
        with torch.no_grad():
            want = self.head(z_source.flatten(1)).softmax(1)
        return -(want * self.head(z_fake.flatten(1)).log_softmax(1)).sum(1).mean()

    @torch.no_grad()
    def translate(self, x: Tensor) -> Tensor:
        """G(x) for images in [-1, 1] (eval mode), in [-1, 1]."""
        self.g.eval()
        return self.g(self.f(x[:, :3]))

    def transfer(self, g: Generator | None = None) -> DomainTransfer:
        """G = g∘f (the live g, or ``g``) as a CPU :class:`DomainTransfer` in eval mode."""
        express = self.opts.expression and self.head is not None
        if express and self.expression_axis is None:
            raise ValueError("call fit_expression before transfer when expression is set")
        if self.opts.prototypes and self.prototype_codes is None:
            raise ValueError("call fit_prototypes before transfer when prototypes is set")
        bank = len(self.prototype_codes) if self.opts.prototypes else 0  # type: ignore[arg-type]
        cfg = dataclasses.replace(
            self.cfg,
            expression=self.head.out_features if express else 0,  # type: ignore[union-attr]
            prototypes=bank,
        )
        net = DomainTransfer(cfg)
        net.f.load_state_dict(self.f.state_dict())
        net.g.load_state_dict((g or self.g).state_dict())
        if net.expression is not None:
            net.expression.head.load_state_dict(self.head.state_dict())  # type: ignore[union-attr]
            net.expression.axis.copy_(self.expression_axis)  # type: ignore[arg-type]
            net.expression.strength.fill_(self.opts.expression)
        if net.prototypes is not None:
            net.prototypes.codes.copy_(self.prototype_codes)  # type: ignore[arg-type]
        return net.eval()

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": "nlf-dtn-checkpoint",
            "step": self.step_no,
            "options": asdict(self.opts),
            "config": self.cfg.to_dict(),
            "f": self.f.state_dict(),
            "g": self.g.state_dict(),
            "d": self.d.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "tone_map": self.tone_map,
            **({"g_ema": self.g_ema.state_dict()} if self.g_ema is not None else {}),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.f.load_state_dict(state["f"])
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step_no = int(state["step"])
        if "tone_map" in state:
            self.tone_map = state["tone_map"].float().cpu()
        if "g_ema" in state:
            self.g_ema = copy.deepcopy(self.g).requires_grad_(False)
            self.g_ema.load_state_dict(state["g_ema"])
