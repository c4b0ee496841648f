"""EncoderLayer computes what nn.TransformerEncoderLayer computes, loads its checkpoints, and exports to ONNX
with the same outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nlu.modules.transformer_layer import AlignedDecoderLayer, EncoderLayer, PackedAttention, attention_bias

HIDDEN, HEADS, FF = 16, 4, 24


def pair() -> tuple[nn.TransformerEncoderLayer, EncoderLayer]:
    torch.manual_seed(0)
    reference = nn.TransformerEncoderLayer(
        HIDDEN, HEADS, dim_feedforward=FF, dropout=0.1, activation="gelu", batch_first=True
    )
    ours = EncoderLayer(HIDDEN, HEADS, dim_feedforward=FF, dropout=0.1)
    ours.load_state_dict(reference.state_dict())  # strict: the same parameter names and shapes
    return reference.eval(), ours.eval()


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(3, 6, HIDDEN, generator=torch.Generator().manual_seed(1))
    padding = torch.zeros(3, 6, dtype=torch.bool)
    padding[1, 4:] = True
    padding[2, 1:] = True
    return x, padding


@torch.no_grad()
def test_same_function_as_torch_transformer_encoder_layer():
    reference, ours = pair()
    x, padding = inputs()
    expected = reference(x, src_key_padding_mask=padding)
    got = ours(x, attention_bias(padding, x.dtype))
    real = ~padding  # padded positions' outputs are never read
    assert torch.allclose(got[real], expected[real], atol=1e-5)


def test_state_dicts_are_interchangeable():
    reference, ours = pair()
    assert set(reference.state_dict()) == set(ours.state_dict())
    back = nn.TransformerEncoderLayer(HIDDEN, HEADS, dim_feedforward=FF, activation="gelu", batch_first=True)
    back.load_state_dict(ours.state_dict())


@torch.no_grad()
def test_padding_does_not_change_real_positions():
    _, ours = pair()
    x, _ = inputs()
    short = ours(x[:1, :4], attention_bias(torch.zeros(1, 4, dtype=torch.bool), x.dtype))
    padding = torch.zeros(1, 6, dtype=torch.bool)
    padding[0, 4:] = True
    padded = ours(x[:1], attention_bias(padding, x.dtype))
    assert torch.allclose(short, padded[:, :4], atol=1e-5)


def test_heads_must_divide_hidden():
    with pytest.raises(ValueError, match="heads"):
        EncoderLayer(HIDDEN, 3, FF)


def test_dropout_only_in_training():
    _, ours = pair()
    x, padding = inputs()
    bias = attention_bias(padding, x.dtype)
    ours.train()
    torch.manual_seed(0)
    a = ours(x, bias)
    torch.manual_seed(1)
    b = ours(x, bias)
    assert not torch.allclose(a, b)
    ours.eval()
    assert torch.equal(ours(x, bias), ours(x, bias))


def zero_diagonal_mask(length: int) -> torch.Tensor:
    """The mask of CTRAN's aligned decoder for nn.TransformerDecoderLayer: each position sees itself only."""
    eye = torch.eye(length, dtype=torch.bool)
    return torch.full((length, length), float("-inf")).masked_fill(eye, 0.0)


@torch.no_grad()
def test_aligned_decoder_layer_is_torch_decoder_layer_with_the_zero_diagonal_mask():
    torch.manual_seed(0)
    reference = nn.TransformerDecoderLayer(
        HIDDEN, HEADS, dim_feedforward=FF, dropout=0.1, activation="gelu", batch_first=True
    ).eval()
    ours = AlignedDecoderLayer(HIDDEN, HEADS, dim_feedforward=FF, dropout=0.1).eval()
    ours.load_state_dict(reference.state_dict())
    assert set(reference.state_dict()) == set(ours.state_dict())
    x, padding = inputs()
    memory = torch.randn(3, 6, HIDDEN, generator=torch.Generator().manual_seed(2))
    expected = reference(x, memory, tgt_mask=zero_diagonal_mask(6), memory_key_padding_mask=padding)
    got = ours(x, memory, attention_bias(padding, x.dtype))
    assert torch.allclose(got, expected, atol=1e-5)


@torch.no_grad()
def test_packed_attention_is_torch_multihead_attention():
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(HIDDEN, HEADS, dropout=0.1, batch_first=True).eval()
    ours = PackedAttention(HIDDEN, HEADS, dropout=0.1).eval()
    ours.load_state_dict(reference.state_dict())
    x, padding = inputs()
    memory = torch.randn(3, 6, HIDDEN, generator=torch.Generator().manual_seed(2))
    bias = attention_bias(padding, x.dtype)
    expected_self, _ = reference(x, x, x, key_padding_mask=padding, need_weights=False)
    real = ~padding
    assert torch.allclose(ours(x, None, bias)[real], expected_self[real], atol=1e-5)
    expected_cross, _ = reference(x, memory, memory, key_padding_mask=padding, need_weights=False)
    assert torch.allclose(ours(x, memory, bias), expected_cross, atol=1e-5)


def test_attention_dropout_reaches_the_self_only_path_in_training():
    layer = PackedAttention(HIDDEN, HEADS, dropout=0.5)
    x, _ = inputs()
    layer.train()
    torch.manual_seed(0)
    a = layer.attend_to_self_only(x)
    torch.manual_seed(1)
    b = layer.attend_to_self_only(x)
    assert not torch.allclose(a, b)
    layer.eval()
    assert torch.equal(layer.attend_to_self_only(x), layer.attend_to_self_only(x))
