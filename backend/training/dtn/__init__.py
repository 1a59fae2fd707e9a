"""Train a DTN: ``python -m backend train dtn --source DIR --target DIR --name NAME``.

G = g∘f (Taigman et al., ICLR 2017; ``algorithms.md`` §6). f is fixed and pretrained: given with
``--encoder`` or pretrained here by :func:`pretrain_classifier` as a classifier on the source
folder (one sub-folder per class; a folder without class sub-folders trains f on a 4-way rotation
pretext).
Only g is trained, against a ternary D, with

    L_D = CE(D(G(s)), FAKE_SOURCE) + CE(D(G(t)), FAKE_TARGET) + CE(D(t), REAL_TARGET)
          (+ r1/2 · ‖∇ₜ log D_real(t)‖², the R1 penalty of Mescheder et al. 2018, with ``--r1``)
    L_G = L_GANG + α·L_CONST + β·L_TID + γ·L_TV
    L_GANG = CE(D(G(s)), REAL_TARGET) + CE(D(G(t)), REAL_TARGET)
    L_CONST = MSE(f(G(s)), f(s)),  L_TID = MSE(G(t), t)

(digits defaults α = β = 15, γ = 0; Adam 2e-4, β1 0.5). With ``--constancy class`` (an f
pretrained as a classifier) L_CONST compares f's class posteriors instead of its codes:
CE(h(f(G(s))), softmax(h(f(s)))) with h the frozen head f was pretrained with, so G must keep
what the source image shows but may redraw its style (docs/quality-dtn.md).

With ``--ema D`` the model saved is an exponential moving average (decay D) of g's weights from
step ``--ema-start`` on, with BatchNorm statistics measured afresh for the averaged weights
(Yazıcı et al., ICLR 2019: averaging smooths the late swings of GAN training).

The run folder holds ``f.pth`` (f, and the head it was pretrained with),
``checkpoint.pth`` (every ``--checkpoint-every`` steps; ``--resume`` continues from it),
``samples/step_NNNNNN.png`` (rows: source, G(source), target, G(target)) and ``model.pth``, which
is imported into the models folder as kind ``dtn`` at the end.

Modules: ``options`` (DtnOptions), ``data`` (image folders), ``pretrain`` (f), ``trainer`` (g and
D, one step), ``loop`` (``train``), ``checkpoints`` (the run folder's files), ``progress`` (the
text bar) and ``cli`` (``add_dtn_arguments``, ``run_dtn``). Their public names are re-exported
here, so ``from backend.training.dtn import train`` works.
"""

from backend.training.dtn.checkpoints import (
    CHECKPOINT,
    ENCODER,
    MODEL,
    load_encoder,
    load_head,
    save_atomic,
    save_encoder,
)
from backend.training.dtn.cli import add_dtn_arguments, options_from_args, run_dtn
from backend.training.dtn.data import IMAGE_SUFFIXES, as_batch, load_folder
from backend.training.dtn.loop import sample_grid, train
from backend.training.dtn.options import CONSTANCY, DtnOptions, Progress
from backend.training.dtn.pretrain import pretrain_classifier
from backend.training.dtn.progress import ProgressBar
from backend.training.dtn.trainer import DtnTrainer, r1_penalty

__all__ = [
    "CHECKPOINT",
    "CONSTANCY",
    "ENCODER",
    "IMAGE_SUFFIXES",
    "MODEL",
    "DtnOptions",
    "DtnTrainer",
    "Progress",
    "ProgressBar",
    "add_dtn_arguments",
    "as_batch",
    "load_encoder",
    "load_folder",
    "load_head",
    "options_from_args",
    "pretrain_classifier",
    "r1_penalty",
    "run_dtn",
    "sample_grid",
    "save_atomic",
    "save_encoder",
    "train",
]
