"""The models folder: imported CycleGAN / DTN generators, validated, hashed and listed.

Layout of ``models_dir`` (see :func:`backend.dirs.models_dir`)::

    manifest.json          {"version": 1, "models": {NAME: entry, ...}}
    NAME.pth               single-direction model (part "main")
    NAME.a_to_b.pth        a training pair: G_A (A -> B) ...
    NAME.b_to_a.pth        ... and G_B (B -> A)

An entry records ``kind``, ``parts`` (part -> {"file", "sha256"}), ``arch`` (hyper-parameters read
off the tensors, so tiny test models load too) and free ``meta`` (source URL, training options).

Every file is read with ``torch.load(weights_only=True)``: a pickle that would run code is refused.
Files are copied unchanged (their sha256 stays the one of the original) and re-hashed on load.

Kinds plug in with :func:`register_kind`::

    register_kind("dtn", builder, validator, clean=None)

    validator(state: dict[str, Tensor]) -> dict[str, Any]
        Check a (cleaned) state dict and return the architecture hyper-parameters ``arch``
        (JSON-serialisable); raise ValueError with a readable reason when it does not fit.
    builder(arch: Mapping[str, Any]) -> nn.Module
        Build the untrained network for ``arch``; the store loads the weights with strict=True.
    clean(state) -> state  (optional)
        Normalise keys before validation (the store itself strips ``module.`` prefixes).
    probe(net) -> None  (optional)
        Run the loaded network once at import; raise ValueError when its output is unusable.

``cyclegan`` is registered here (ResNet and U-Net generators in the official layout and in the
layouts of other implementations, matched by their tensors: see
:mod:`backend.algorithms.nets.cyclegan_arch`;
the file is kept as it was, its tensors are renamed on every load), and so are ``dtn`` and
``npe`` (their nets in :mod:`backend.algorithms.nets`, which never import this store).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from backend.algorithms.nets import cyclegan_arch
from backend.algorithms.nets import dtn as dtn_net
from backend.algorithms.nets import npe as npe_net
from backend.dirs import models_dir
from backend.errors import Broken, NlfError, shown

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MAIN = "main"
PAIR = ("a_to_b", "b_to_a")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""Model names: no dot (a pair's files are NAME.a_to_b.pth), nothing a shell or a file system
would read specially, no control characters (matched with ``fullmatch``)."""

CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{name}.pth"
"""Official address of the pretrained single-direction CycleGAN generators."""

CYCLEGAN_PRETRAINED = (
    "apple2orange",
    "orange2apple",
    "summer2winter_yosemite",
    "winter2summer_yosemite",
    "horse2zebra",
    "zebra2horse",
    "monet2photo",
    "style_monet",
    "style_cezanne",
    "style_ukiyoe",
    "style_vangogh",
    "sat2map",
    "map2sat",
    "cityscapes_photo2label",
    "cityscapes_label2photo",
    "facades_photo2label",
    "facades_label2photo",
    "iphone2dslr_flower",
)


def check_name(name: str) -> None:
    """Raise ModelError unless ``name`` is 1-64 letters, digits, ``-`` or ``_`` (first one a
    letter or digit)."""
    if not _NAME.fullmatch(name):
        raise ModelError(
            f"model name {shown(repr(name))} must be 1-64 letters, digits, '-' or '_' "
            "(starting with a letter or digit)"
        )


class ModelError(NlfError, ValueError):
    """A model file is unreadable, unsafe or does not fit its kind; or a model name is unknown."""


class ModelBroken(Broken, ModelError):
    """An installed model's file is missing or changed since import (FAILED_PRECONDITION)."""


@dataclass(frozen=True)
class Kind:
    """How to validate and build the networks of one model kind."""

    name: str
    builder: Callable[[Mapping[str, Any]], nn.Module]
    validator: Callable[[dict[str, Tensor]], dict[str, Any]]
    clean: Callable[[Mapping[str, Tensor]], dict[str, Tensor]] | None = None
    probe: Callable[[nn.Module], None] | None = None


@dataclass(frozen=True)
class ModelEntry:
    """One installed model as the manifest records it."""

    name: str
    kind: str
    parts: Mapping[str, Mapping[str, str]]
    arch: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_pair(self) -> bool:
        return set(self.parts) == set(PAIR)

    @property
    def classes(self) -> list[str]:
        """Class names a class-aware training recorded (``meta["classes"]``), else empty."""
        return [str(c) for c in self.meta.get("classes", [])]

    def summary(self) -> str:
        """The architecture in words, plus the classes when the model has some."""
        if self.kind == "cyclegan":
            text = cyclegan_arch.describe(self.arch)
        else:
            text = " ".join(f"{k}={v}" for k, v in sorted(self.arch.items()))
        if self.classes:
            text += f"; classes: {', '.join(self.classes)}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "parts": {k: dict(v) for k, v in self.parts.items()},
            "arch": dict(self.arch),
            "meta": dict(self.meta),
        }


_KINDS: dict[str, Kind] = {}


def register_kind(
    kind: str,
    builder: Callable[[Mapping[str, Any]], nn.Module],
    validator: Callable[[dict[str, Tensor]], dict[str, Any]],
    clean: Callable[[Mapping[str, Tensor]], dict[str, Tensor]] | None = None,
    probe: Callable[[nn.Module], None] | None = None,
) -> None:
    """Make model kind ``kind`` importable and loadable (see the module docstring)."""
    _KINDS[kind] = Kind(kind, builder, validator, clean, probe)


def get_kind(kind: str) -> Kind:
    """The registered kind (ModelError when there is none)."""
    if kind not in _KINDS:
        raise ModelError(f"unknown model kind '{kind}'; known: {', '.join(sorted(_KINDS))}")
    return _KINDS[kind]


register_kind(
    "cyclegan",
    cyclegan_arch.build,
    cyclegan_arch.infer_arch,
    cyclegan_arch.canonical_state_dict,
    cyclegan_arch.probe,
)
register_kind("dtn", dtn_net.build_transfer, dtn_net.infer_config)
register_kind("npe", npe_net.build, npe_net.infer_config, probe=npe_net.probe)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Load a checkpoint safely (``weights_only=True``) and return its flat tensor dict.

    Raises ModelError for files that are not PyTorch checkpoints, that hold Python objects other
    than tensors (a pickle that could run code), or that are not a mapping of names to tensors.
    """
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        text = str(exc)
        if "Unsupported global" in text or "GLOBAL " in text:
            raise ModelError(
                f"refused '{path.name}': it holds Python objects other than tensors, which could "
                "run code when loaded; only plain state dicts (name -> tensor) are accepted"
            ) from None
        raise ModelError(
            f"'{path.name}' is not a readable PyTorch checkpoint ({type(exc).__name__})"
        ) from None
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise ModelError(f"'{path.name}' is not a state dict (found {type(obj).__name__})")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        raise ModelError(f"'{path.name}' is not a state dict: entry {bad[0]!r} is not a tensor")
    out: dict[str, Tensor] = {}
    for key, value in obj.items():
        k = key
        while k.startswith("module."):
            k = k[len("module.") :]
        out[k] = value
    return out


def _check_and_build(kind: Kind, state: dict[str, Tensor], label: str) -> tuple[nn.Module, dict]:
    """Validate ``state`` against ``kind`` and return (network with the weights, arch)."""
    try:
        if kind.clean is not None:
            state = kind.clean(state)
        arch = kind.validator(state)
        net = kind.builder(arch)
        net.load_state_dict(state, strict=True)
    except (ValueError, RuntimeError, KeyError, TypeError) as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = " ".join(lines)[:400] or type(exc).__name__
        raise ModelError(f"'{label}' is not a {kind.name} model: {reason}") from None
    net.eval().requires_grad_(False)
    return net, arch


class ModelStore:
    """The models folder. Re-reads the manifest on every query; caches loaded networks."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = models_dir(root)
        self._cache: dict[tuple[str, str, str], tuple[str, nn.Module]] = {}
        self._lock = threading.Lock()

    # manifest -----------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        if not path.is_file():
            return {"version": 1, "models": {}}
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot read {path}: {exc}") from None
        data.setdefault("models", {})
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".manifest-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, self.root / MANIFEST)

    def entries(self, kind: str | None = None) -> list[ModelEntry]:
        """Installed models (optionally of one kind), sorted by name."""
        models = self._read()["models"]
        out = [
            ModelEntry(n, e["kind"], e["parts"], e.get("arch", {}), e.get("meta", {}))
            for n, e in sorted(models.items())
        ]
        return [e for e in out if kind is None or e.kind == kind]

    def entry(self, name: str) -> ModelEntry:
        for e in self.entries():
            if e.name == name:
                return e
        raise ModelError(f"no model named '{name}' in {self.root}")

    # import -------------------------------------------------------------------------------
    def import_model(
        self,
        path: str | os.PathLike[str],
        name: str,
        kind: str = "cyclegan",
        meta: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> ModelEntry:
        """Validate and copy a checkpoint into the folder under ``name``.

        ``path`` is one state-dict file, or a training folder with ``latest_net_G_A.pth`` and
        ``latest_net_G_B.pth`` (imported as the pair a_to_b / b_to_a). Raises ModelError.
        """
        check_name(name)
        src = Path(path)
        k = get_kind(kind)
        if src.is_dir():
            names = zip(PAIR, ("G_A", "G_B"), strict=True)
            files = {p: src / f"latest_net_{g}.pth" for p, g in names}
            absent = [str(p) for p in files.values() if not p.is_file()]
            if absent:
                raise ModelError(f"folder '{src}' has no {', '.join(absent)}")
        elif src.is_file():
            files = {MAIN: src}
        else:
            raise ModelError(f"no such file or folder: '{src}'")
        existing = self._read()["models"]
        if name in existing and not replace:
            raise ModelError(f"a model named '{name}' exists already (choose another name)")
        theirs = {
            rec["file"]: other
            for other, e in existing.items()
            if other != name
            for rec in e.get("parts", {}).values()
        }
        for part in files:
            dest_name = f"{name}.pth" if part == MAIN else f"{name}.{part}.pth"
            if dest_name in theirs:
                raise ModelError(
                    f"model name '{name}' would overwrite {dest_name} of model "
                    f"'{theirs[dest_name]}'; choose another name"
                )
        arch: dict[str, Any] = {}
        for file in files.values():
            net, arch = _check_and_build(k, read_state_dict(file), file.name)
            if k.probe is not None:
                try:
                    k.probe(net)
                except ValueError as exc:
                    raise ModelError(f"'{file.name}' loads but is unusable: {exc}") from None
        self.root.mkdir(parents=True, exist_ok=True)
        parts: dict[str, dict[str, str]] = {}
        for part, file in files.items():
            dest_name = f"{name}.pth" if part == MAIN else f"{name}.{part}.pth"
            dest = self.root / dest_name
            if file.resolve() != dest.resolve():
                tmp = self.root / f".{dest_name}.tmp"
                shutil.copyfile(file, tmp)
                os.replace(tmp, dest)
            parts[part] = {"file": dest_name, "sha256": sha256_of(dest)}
        entry = ModelEntry(name, kind, parts, arch, dict(meta or {}))
        data = self._read()
        data["models"][name] = entry.to_json()
        self._write(data)
        log.info("imported %s model '%s' (%s)", kind, name, ", ".join(parts))
        return entry

    def remove(self, name: str) -> None:
        """Delete a model and its files."""
        entry = self.entry(name)
        data = self._read()
        data["models"].pop(name, None)
        self._write(data)
        kept = {rec["file"] for e in data["models"].values() for rec in e.get("parts", {}).values()}
        for rec in entry.parts.values():
            if rec["file"] in kept:  # another model's file (names from before the charset rule)
                continue
            (self.root / rec["file"]).unlink(missing_ok=True)

    # load ---------------------------------------------------------------------------------
    def load(self, name: str, part: str | None = None) -> tuple[str, nn.Module]:
        """(kind, network in eval mode on the CPU) for model ``name``; cached per file hash."""
        entry = self.entry(name)
        part = part or next(iter(entry.parts))
        if part not in entry.parts:
            raise ModelError(f"model '{name}' has no part '{part}' (has {', '.join(entry.parts)})")
        rec = entry.parts[part]
        key = (name, part, rec["sha256"])
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            path = self.root / rec["file"]
            if not path.is_file():
                raise ModelBroken(f"model file '{path}' is missing", self._reinstall(entry))
            if sha256_of(path) != rec["sha256"]:
                raise ModelBroken(
                    f"model file '{path}' changed since import (sha256 mismatch)",
                    self._reinstall(entry),
                )
            net, _ = _check_and_build(get_kind(entry.kind), read_state_dict(path), path.name)
            self._cache = {k: v for k, v in self._cache.items() if k[:2] != (name, part)}
            self._cache[key] = (entry.kind, net)
            return self._cache[key]

    def _reinstall(self, entry: ModelEntry) -> str:
        """The commands that replace a broken model by a fresh import of its original file."""
        flag = dir_flag(self.root)
        return (
            f"python -m backend models import FILE --name {entry.name} --kind {entry.kind} "
            f"--replace{flag}"
        )

    # fetch --------------------------------------------------------------------------------
    def fetch(
        self,
        name: str,
        url: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        timeout: float = 60.0,
    ) -> ModelEntry:
        """Download an official pretrained CycleGAN generator and import it under ``name``.

        ``url`` overrides the address (a mirror); ``{name}`` in it is replaced.
        """
        if url is None:
            if name not in CYCLEGAN_PRETRAINED:
                raise ModelError(
                    f"unknown pretrained model '{name}'; known: {', '.join(CYCLEGAN_PRETRAINED)}"
                )
            url = CYCLEGAN_URL
        address = url.format(name=name)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=f".{name}-", suffix=".download")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(address, timeout=timeout) as r:
                total = int(r.headers.get("Content-Length") or 0)
                done = 0
                while chunk := r.read(1 << 20):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
            if total and done != total:
                raise ModelError(f"download of {address} stopped at {done} of {total} bytes")
            return self.import_model(tmp, name, "cyclegan", meta={"source": address})
        except OSError as exc:
            raise ModelError(f"cannot download {address}: {exc}") from None
        finally:
            tmp.unlink(missing_ok=True)


def list_models(kind: str | None = None, root: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the installed models (of ``kind`` when given)."""
    return [e.name for e in ModelStore(root).entries(kind)]


def import_model(
    path: str | os.PathLike[str],
    name: str,
    kind: str = "cyclegan",
    root: str | os.PathLike[str] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> ModelEntry:
    """Validate ``path`` and install it as ``name`` (see :meth:`ModelStore.import_model`)."""
    return ModelStore(root).import_model(path, name, kind, meta)


_STORES: dict[Path, ModelStore] = {}


def load_model(
    name: str, root: str | os.PathLike[str] | None = None, part: str | None = None
) -> tuple[str, nn.Module]:
    """(kind, network) for an installed model, cached per models folder."""
    path = models_dir(root)
    store = _STORES.setdefault(path, ModelStore(path))
    return store.load(name, part)


def fetch(name: str, root: str | os.PathLike[str] | None = None, url: str | None = None):
    """Download and import an official pretrained CycleGAN (see :meth:`ModelStore.fetch`)."""
    return ModelStore(root).fetch(name, url)


@functools.lru_cache(maxsize=8)
def _store_at(root: Path) -> ModelStore:
    return ModelStore(root)


def store_for(root: str | os.PathLike[str] | None) -> ModelStore:
    """The one ModelStore of a models folder in this process (filters share its model cache)."""
    return _store_at(models_dir(root))


def dir_flag(root: str | os.PathLike[str] | None) -> str:
    """`` --models-dir ROOT`` when ROOT is not the default folder (for commands shown to users)."""
    return f" --models-dir {root}" if models_dir(root) != models_dir() else ""
