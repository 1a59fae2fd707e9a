"""Nearest-patch search by normalised cross-correlation, chunking, pasting and style swap."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from backend.patches import PatchBank, chunk_size, extract_patches, style_swap


def _brute_force(target, style, k, stride, t_sem=None, s_sem=None, w=0.0):
    """Argmax of the doodle NCC score over explicit patch vectors."""
    tp = F.unfold(target, k)[0].T
    sp = F.unfold(style, k, stride=stride)[0].T
    score = F.normalize(tp, dim=1) @ F.normalize(sp, dim=1).T
    if t_sem is not None:
        tm = F.unfold(t_sem, k)[0].T
        sm = F.unfold(s_sem, k, stride=stride)[0].T
        score = score + w**0.5 * (F.normalize(tm, dim=1) @ F.normalize(sm, dim=1).T)
    h, ww = target.shape[-2] - k + 1, target.shape[-1] - k + 1
    return score.argmax(1).reshape(h, ww)


@pytest.mark.parametrize(("k", "stride"), [(3, 1), (3, 2), (5, 1)])
def test_match_equals_brute_force(k: int, stride: int) -> None:
    """The convolutional NCC search picks the same style patch as explicit cosine similarity."""
    g = torch.Generator().manual_seed(k * 10 + stride)
    target = torch.rand(1, 6, 11, 9, generator=g)
    style = torch.rand(1, 6, 13, 12, generator=g)
    bank = PatchBank.build(style, k, stride)
    assert torch.equal(bank.match(target), _brute_force(target, style, k, stride))


def test_match_recovers_copied_patches() -> None:
    """A target built from style patches finds exactly those patches (the score is scale-free)."""
    g = torch.Generator().manual_seed(1)
    style = torch.rand(1, 8, 10, 10, generator=g)
    target = 3.0 * style[..., 2:7, 1:8]  # a scaled crop: NCC ignores the scale
    index = PatchBank.build(style, 3).match(target)
    cols = style.shape[-1] - 2
    expected = torch.tensor([[(2 + i) * cols + (1 + j) for j in range(5)] for i in range(3)])
    assert torch.equal(index, expected)


def test_semantic_match_equals_brute_force() -> None:
    """With map channels the score adds sqrt(w) times the map NCC, as explicit vectors do."""
    g = torch.Generator().manual_seed(2)
    target, style = torch.rand(1, 5, 9, 9, generator=g), torch.rand(1, 5, 10, 8, generator=g)
    t_sem, s_sem = torch.rand(1, 3, 9, 9, generator=g), torch.rand(1, 3, 10, 8, generator=g)
    bank = PatchBank.build(style, 3, 1, s_sem, 4.0)
    assert torch.equal(
        bank.match(target, t_sem), _brute_force(target, style, 3, 1, t_sem, s_sem, 4.0)
    )


def test_semantic_weight_steers_matches_to_the_labelled_region() -> None:
    """A large semantic weight makes every match come from the style region of the same label."""
    g = torch.Generator().manual_seed(3)
    style = torch.rand(1, 4, 8, 12, generator=g)
    s_sem = torch.zeros(1, 2, 8, 12)
    s_sem[0, 0, :, :6], s_sem[0, 1, :, 6:] = 1, 1
    target = torch.rand(1, 4, 6, 6, generator=g)
    t_sem = torch.zeros(1, 2, 6, 6)
    t_sem[0, 1] = 1
    index = PatchBank.build(style, 3, 1, s_sem, 1000.0).match(target, t_sem)
    cols = index % (12 - 2)
    assert bool((cols >= 6).all())


@pytest.mark.parametrize("max_elements", [1, 37, 500, 10**9])
def test_chunked_argmax_equals_unchunked(max_elements: int) -> None:
    """Any chunk size gives the same argmax as the single full score volume."""
    g = torch.Generator().manual_seed(4)
    target, style = torch.rand(1, 7, 12, 10, generator=g), torch.rand(1, 7, 14, 14, generator=g)
    bank = PatchBank.build(style, 3, 1)
    full = bank.scores(target).argmax(0)
    assert torch.equal(bank.match(target, max_elements=max_elements), full)


def test_chunk_size_bounds_the_response() -> None:
    """The chunk holds as many patches as fit the element budget, and at least one."""
    assert chunk_size(100, 1000) == 10
    assert chunk_size(10**6, 10) == 1


def test_paste_averages_overlaps() -> None:
    """Pasting each patch back where it came from rebuilds the style map exactly."""
    g = torch.Generator().manual_seed(5)
    style = torch.rand(1, 3, 7, 9, generator=g)
    bank = PatchBank.build(style, 3)
    index = torch.arange(len(bank)).reshape(5, 7)
    assert torch.allclose(bank.paste(index), style, atol=1e-6)


@pytest.mark.parametrize("max_elements", [1, 200, 10**9])
def test_chunked_paste_equals_unchunked(max_elements: int) -> None:
    """Folding rows in blocks gives the same map as one fold of every patch."""
    g = torch.Generator().manual_seed(8)
    bank = PatchBank.build(torch.rand(1, 4, 9, 8, generator=g), 3)
    index = torch.randint(0, len(bank), (6, 5), generator=g)
    full = bank.paste(index, max_elements=10**9)
    assert torch.allclose(bank.paste(index, max_elements=max_elements), full, atol=1e-6)


def test_style_swap_of_the_style_is_the_style() -> None:
    """Swapping a map with itself returns it (every patch is its own nearest neighbour)."""
    g = torch.Generator().manual_seed(6)
    style = torch.rand(1, 6, 9, 9, generator=g)
    assert torch.allclose(style_swap(style, style), style, atol=1e-6)


def test_extract_patches_shapes_and_errors() -> None:
    """Patches come out (N, C, k, k); a map smaller than the patch is refused."""
    assert extract_patches(torch.rand(1, 2, 6, 5), 3, 2).shape == (4, 2, 3, 3)
    with pytest.raises(ValueError, match="smaller than"):
        extract_patches(torch.rand(1, 2, 2, 5), 3)


def test_match_checks_channels_and_maps() -> None:
    """A target with other channels, or no map for a semantic bank, is a clear error."""
    bank = PatchBank.build(torch.rand(1, 4, 6, 6), 3, 1, torch.rand(1, 2, 6, 6), 1.0)
    with pytest.raises(ValueError, match="channels"):
        bank.match(torch.rand(1, 5, 6, 6), torch.rand(1, 2, 6, 6))
    with pytest.raises(ValueError, match="target_sem"):
        bank.match(torch.rand(1, 4, 6, 6))
