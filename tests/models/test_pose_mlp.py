import pytest
import torch

from sslskel.data.errors import DataFormatError
from sslskel.models import ENCODERS, build_encoder, encoder_class
from sslskel.models.pose_mlp import PoseMLP

torch.set_num_threads(1)

HIDDEN, OUT = 16, 8


def encoder(dropout=0.0, **kwargs):
    torch.manual_seed(0)
    enc = PoseMLP(hidden=HIDDEN, out_dim=OUT, dropout=dropout, **kwargs)
    with torch.no_grad():  # non-trivial fixed statistics for eval-mode comparisons
        for bn in (m for m in enc.modules() if isinstance(m, torch.nn.BatchNorm1d)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    return enc


def clips(n=3, t=7, v=25, m=2):
    torch.manual_seed(1)
    return torch.randn(n, 3, t, v, m)


def reference_frame(enc, frame):
    """One frame (C, V, M) -> (OUT,), eval mode, written out layer by layer."""
    def layer(seq, h):  # Linear -> BN (running statistics) -> ReLU; dropout is off in eval
        linear, bn = seq[0], seq[1]
        y = linear.weight @ h + linear.bias
        y = (y - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
        return torch.clamp(y, min=0)

    c, v, _ = frame.shape
    h = torch.stack([frame[ci, vi, 0] for vi in range(v) for ci in range(c)])  # joint-major
    h = layer(enc.stem, h)
    for block in enc.blocks:
        skip = h
        for seq in block.layers:
            h = layer(seq, h)
        h = h + skip
    return enc.head.weight @ h + enc.head.bias


def test_frame_embeddings_match_a_per_frame_loop():
    enc = encoder().eval()
    x, lengths = clips(), torch.tensor([7, 4, 1])
    with torch.no_grad():
        out = enc.frame_embeddings(x, lengths)
        pooled = enc(x, lengths)
    assert out.shape == (3, 7, OUT)
    for i in range(3):
        frames = [reference_frame(enc, x[i, :, t]) for t in range(int(lengths[i]))]
        for t, expected in enumerate(frames):
            torch.testing.assert_close(out[i, t], expected, atol=1e-5, rtol=1e-5)
        assert (out[i, int(lengths[i]):] == 0).all()
        torch.testing.assert_close(pooled[i], torch.stack(frames).mean(0), atol=1e-5, rtol=1e-5)


def test_padding_changes_nothing_in_training_mode():
    """Garbage in padded frames changes neither the outputs nor the BatchNorm statistics."""
    x, lengths = clips(), torch.tensor([7, 4, 2])
    noisy = x.clone()
    for i, length in enumerate(lengths.tolist()):
        noisy[i, :, length:] = 100.0
    a, b = encoder().train(), encoder().train()
    out_a, out_b = a.frame_embeddings(x, lengths), b.frame_embeddings(noisy, lengths)
    torch.testing.assert_close(out_a, out_b)
    torch.testing.assert_close(a(x, lengths), b(noisy, lengths))
    for (name, buf_a), buf_b in zip(a.named_buffers(), b.buffers()):
        torch.testing.assert_close(buf_a, buf_b, msg=name)
    # and lengths that cover everything equal no lengths at all
    full = torch.tensor([7, 7, 7])
    with torch.no_grad():
        torch.testing.assert_close(encoder().eval()(x, full), encoder().eval()(x))


def test_only_the_main_actor_is_used():
    enc = encoder().eval()
    x = clips()
    other = x.clone()
    other[..., 1] = torch.randn_like(other[..., 1])
    with torch.no_grad():
        torch.testing.assert_close(enc(x), enc(other))


def test_attributes_shapes_and_layers():
    enc = PoseMLP(layout="ucla20", in_channels=6, num_persons=1, hidden=32, num_blocks=3, out_dim=10)
    assert enc.feature_dim == 10 and enc.per_frame is True
    assert enc.stem[0].in_features == 6 * 20
    assert len(enc.blocks) == 3 and all(len(b.layers) == 2 for b in enc.blocks)
    assert enc.stem[3].p == 0.25
    out = enc(torch.randn(4, 6, 5, 20, 1), torch.tensor([5, 3, 2, 1]))
    assert out.shape == (4, 10)
    with pytest.raises(DataFormatError):
        enc(torch.randn(4, 3, 5, 20, 1))


def test_registry_and_build_encoder():
    assert "pose_mlp" in ENCODERS and encoder_class("pose_mlp") is PoseMLP
    enc = build_encoder("pose_mlp", layout="ntu25", in_channels=3, num_persons=2)
    assert enc.feature_dim == 64 and enc.stem[0].in_features == 75 and enc.stem[0].out_features == 1024
    assert len(enc.blocks) == 2
    enc.eval()
    with torch.no_grad():
        assert enc(torch.randn(2, 3, 4, 25, 2)).shape == (2, 64)
