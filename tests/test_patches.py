"""Nearest-patch search by normalised cross-correlation, chunking, pasting and style swap."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from backend.algorithms.patches import (
    PatchBank,
    _normalised,
    chunk_size,
    extract_patches,
    principal_basis,
    quilt,
    stride_for,
    style_swap,
)


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


@pytest.mark.parametrize("k", [3, 5])
def test_full_rank_projection_equals_brute_force(k: int) -> None:
    """Searching in all principal channels (an orthonormal rotation) is the exact search."""
    g = torch.Generator().manual_seed(20 + k)
    target = torch.rand(1, 6, 11, 9, generator=g)
    style = torch.rand(1, 6, 13, 12, generator=g)
    bank = PatchBank.build(style, k, 1, project=6)
    assert bank.basis is None  # project == C: nothing to gain, exact path
    basis = principal_basis(style, 6)
    assert torch.allclose(basis.T @ basis, torch.eye(6), atol=1e-5)
    rotated = PatchBank.build(style, k, 1)
    rotated = PatchBank(
        rotated.patches,
        _normalised(extract_patches(torch.einsum("bchw,cd->bdhw", style, basis), k)),
        None,
        0.0,
        k,
        basis,
    )
    assert torch.equal(rotated.match(target), _brute_force(target, style, k, 1))


def test_projected_search_finds_copied_patches() -> None:
    """A low-rank search still finds exact copies when the style is low-rank (its own basis)."""
    g = torch.Generator().manual_seed(9)
    low = torch.einsum(
        "dc,bdhw->bchw", torch.randn(4, 32, generator=g), torch.rand(1, 4, 12, 12, generator=g)
    )
    target = low[..., 3:9, 2:10]
    bank = PatchBank.build(low, 3, 1, project=4)
    assert bank.basis is not None and bank.basis.shape == (32, 4)
    cols = 12 - 2
    expected = torch.tensor([[(3 + i) * cols + (2 + j) for j in range(6)] for i in range(4)])
    assert torch.equal(bank.match(target), expected)


def test_stride_for_bounds_the_patch_count() -> None:
    """The stride grows until the style holds at most max_patches patches."""
    assert stride_for((20, 20), 3, 10**6) == 1
    s = stride_for((98, 98), 3, 2500)
    assert ((98 - 3) // s + 1) ** 2 <= 2500 < ((98 - 3) // (s - 1) + 1) ** 2
    assert stride_for((20, 20), 3, 10, stride=2) >= 2


def test_quilt_of_the_own_matches_rebuilds_the_style() -> None:
    """Pasting every pixel window where its feature window lies gives the style back."""
    g = torch.Generator().manual_seed(11)
    style = torch.rand(1, 3, 40, 48, generator=g)
    index = torch.arange(8 * 10).reshape(8, 10)  # 3x3 windows of a 10x12 map of 4-px cells
    assert torch.allclose(quilt(index, style, 3, 4, 1, (40, 48)), style, atol=1e-5)


@pytest.mark.parametrize("i", [0, 5, 11])
def test_quilt_indexes_strided_banks_like_the_features(i: int) -> None:
    """Match i of a stride-2 bank is the pixel window under feature patch i of that bank."""
    g = torch.Generator().manual_seed(12)
    style = torch.rand(1, 3, 40, 48, generator=g)
    feat = F.avg_pool2d(style, 4)  # a 10x12 map with 4-px cells
    cols = (12 - 3) // 2 + 1
    r, c = divmod(i, cols)
    assert torch.equal(
        extract_patches(feat, 3, 2)[i], feat[0, :, 2 * r : 2 * r + 3, 2 * c : 2 * c + 3]
    )
    out = quilt(torch.tensor([[i]]), style, 3, 4, 2, (12, 12))
    assert torch.allclose(out, style[..., 8 * r : 8 * r + 12, 8 * c : 8 * c + 12], atol=1e-6)
