import math

import pytest
import torch

from sslskel.models import build_encoder
from sslskel.models.gru import BiGRUEncoder

torch.set_num_threads(1)

HIDDEN = 16


def encoder(num_layers=2, **kwargs):
    torch.manual_seed(0)
    enc = BiGRUEncoder(hidden_size=HIDDEN, num_layers=num_layers, **kwargs)
    with torch.no_grad():  # non-trivial fixed statistics for eval-mode comparisons
        enc.input_norm.running_mean.uniform_(-0.5, 0.5)
        enc.input_norm.running_var.uniform_(0.5, 2.0)
        enc.input_norm.weight.uniform_(0.5, 1.5)
        enc.input_norm.bias.uniform_(-0.2, 0.2)
    return enc


def clips(n=3, t=10, v=25, m=2):
    torch.manual_seed(1)
    return torch.randn(n, 3, t, v, m)


def frames_of(x):
    """(N, C, T, V, M) -> (N, T, M*V*C), person-major, joint, then channel (CMD order)."""
    n, c, t, v, m = x.shape
    return x.permute(0, 2, 4, 3, 1).reshape(n, t, m * v * c)


def gru_reference(frames, gru):
    """Plain GRU equations, one frame at a time, every layer and both directions.

    Returns per layer (forward outputs, backward outputs), each (N, T, H)."""
    h_size = gru.hidden_size
    layer_input = frames
    per_layer = []
    for layer in range(gru.num_layers):
        outputs = []
        for suffix, steps in (("", range(frames.shape[1])), ("_reverse", reversed(range(frames.shape[1])))):
            w_ih = getattr(gru, f"weight_ih_l{layer}{suffix}")
            w_hh = getattr(gru, f"weight_hh_l{layer}{suffix}")
            b_ih = getattr(gru, f"bias_ih_l{layer}{suffix}")
            b_hh = getattr(gru, f"bias_hh_l{layer}{suffix}")
            h = frames.new_zeros(frames.shape[0], h_size)
            out = frames.new_zeros(frames.shape[0], frames.shape[1], h_size)
            for t in steps:
                gi = layer_input[:, t] @ w_ih.T + b_ih
                gh = h @ w_hh.T + b_hh
                r = torch.sigmoid(gi[:, :h_size] + gh[:, :h_size])
                z = torch.sigmoid(gi[:, h_size:2 * h_size] + gh[:, h_size:2 * h_size])
                candidate = torch.tanh(gi[:, 2 * h_size:] + r * gh[:, 2 * h_size:])
                h = (1 - z) * candidate + z * h
                out[:, t] = h
            outputs.append(out)
        per_layer.append(tuple(outputs))
        layer_input = torch.cat(outputs, dim=2)
    return per_layer


def eval_norm(enc, frames):
    bn = enc.input_norm
    return (frames - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias


def test_output_shape_and_registry():
    enc = build_encoder("gru", hidden_size=HIDDEN, num_layers=2)
    assert enc.feature_dim == 2 * HIDDEN
    assert enc(clips()).shape == (3, 2 * HIDDEN)
    assert enc(clips(), lengths=torch.tensor([10, 4, 7])).shape == (3, 2 * HIDDEN)
    ucla = BiGRUEncoder(layout="ucla20", num_persons=1, hidden_size=HIDDEN, num_layers=1)
    assert ucla(clips(v=20, m=1)).shape == (3, 2 * HIDDEN)


@pytest.mark.parametrize("train", [False, True])
def test_padding_values_do_not_change_the_output(train):
    enc = encoder().train(train)
    x = clips()
    lengths = torch.tensor([10, 4, 7])
    noisy = x.clone()
    for i, length in enumerate(lengths):
        noisy[i, :, length:] = 100 * torch.randn_like(noisy[i, :, length:])
    # in training mode too: the BatchNorm statistics come from valid frames only
    torch.testing.assert_close(enc(noisy, lengths), enc(x, lengths))


def test_packed_batch_equals_each_sample_alone_on_its_prefix():
    enc = encoder().eval()
    x = clips()
    lengths = torch.tensor([10, 4, 7])
    batched = enc(x, lengths)
    for i, length in enumerate(lengths):
        alone = enc(x[i:i + 1, :, :length])
        torch.testing.assert_close(batched[i:i + 1], alone, rtol=1e-5, atol=1e-6)


def test_representation_is_last_valid_forward_state_and_first_frame_backward_state():
    enc = encoder(num_layers=2).eval()
    x = clips()
    lengths = torch.tensor([10, 4, 7])
    out = enc(x, lengths)
    normed = eval_norm(enc, frames_of(x))
    for i, length in enumerate(lengths):
        # nn.GRU run on the valid prefix gives the output sequence of the last layer
        sequence, _ = enc.gru(normed[i:i + 1, :length])
        torch.testing.assert_close(out[i, :HIDDEN], sequence[0, length - 1, :HIDDEN],
                                   rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out[i, HIDDEN:], sequence[0, 0, HIDDEN:], rtol=1e-5, atol=1e-6)
        # and the GRU equations written out by hand agree
        forward, backward = gru_reference(normed[i:i + 1, :length], enc.gru)[-1]
        torch.testing.assert_close(out[i, :HIDDEN], forward[0, -1], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(out[i, HIDDEN:], backward[0, 0], rtol=1e-4, atol=1e-5)


def test_training_normalises_with_valid_frame_statistics():
    enc = encoder(num_layers=1).train()
    x = clips()
    lengths = torch.tensor([10, 4, 7])
    out = enc(x, lengths)
    frames = frames_of(x)
    valid = torch.cat([frames[i, :length] for i, length in enumerate(lengths)])
    mean, var = valid.mean(0), valid.var(0, unbiased=False)
    bn = enc.input_norm
    normed = (frames - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias
    for i, length in enumerate(lengths):
        forward, backward = gru_reference(normed[i:i + 1, :length], enc.gru)[-1]
        torch.testing.assert_close(out[i], torch.cat([forward[0, -1], backward[0, 0]]),
                                   rtol=1e-4, atol=1e-5)


def test_gradients_flow_to_every_parameter():
    enc = encoder().train()
    enc(clips(), torch.tensor([10, 4, 7])).square().sum().backward()
    for name, param in enc.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_xavier_init_for_matrices():
    enc = BiGRUEncoder(hidden_size=HIDDEN, num_layers=2)
    for name, param in enc.gru.named_parameters():
        if param.dim() == 2:
            fan_out, fan_in = param.shape
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            top = param.detach().abs().max().item()
            # uniform(-bound, bound): the largest |w| of hundreds of draws is close to bound
            assert 0.9 * bound < top <= bound, name
        else:  # biases keep PyTorch's default U(-1/sqrt(H), 1/sqrt(H))
            assert param.detach().abs().max().item() <= 1 / math.sqrt(HIDDEN), name
    # the default init would exceed the xavier bound for the recurrent matrices: the test can fail
    default = torch.nn.GRU(150, HIDDEN)
    assert default.weight_hh_l0.abs().max() < math.sqrt(6.0 / (HIDDEN + 3 * HIDDEN)) * 0.9


@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize("lengths", [(None, None), ((10, 4, 7), (10, 10, 10)), ((3, 10, 6), (9, 2, 10))])
def test_views_in_one_call_equal_one_call_per_view(pooling, lengths):
    # the same outputs, gradients and BatchNorm running statistics as two separate calls (float64)
    x1, x2 = clips(), clips() * 0.5 + 0.3
    lens = [None if n is None else torch.tensor(n) for n in lengths]
    separate, together = encoder(pooling=pooling).double(), encoder(pooling=pooling).double()
    want = [separate(x.double(), n) for x, n in zip((x1, x2), lens)]
    got = together.forward_many([x1.double(), x2.double()], lens)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)
    (sum(w.square().sum() for w in want)).backward()
    (sum(g.square().sum() for g in got)).backward()
    for (name, a), b in zip(separate.named_parameters(), together.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-10, atol=1e-12, msg=name)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(together.input_norm, name), getattr(separate.input_norm, name))


def test_views_of_different_lengths_in_time_are_encoded_one_by_one():
    enc = encoder().eval()
    x1, x2 = clips(t=10), clips(t=6)
    got = enc.forward_many([x1, x2], [None, torch.tensor([6, 3, 5])])
    torch.testing.assert_close(got[0], enc(x1))
    torch.testing.assert_close(got[1], enc(x2, torch.tensor([6, 3, 5])))
