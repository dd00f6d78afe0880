"""The same chain rule learned by other networks (core.models.mlp, gru, wavenet): each is causal by its
construction, its decoding state gives exactly the whole-sequence pass, and what each conditions on is
what its docstring says (the MLP's window, the WaveNet's receptive field, the GRU's whole prefix).

Oracles: exhaustive perturbation (change one token to every other, see which predictions move),
gradients, and the uncached forward pass."""

from __future__ import annotations

import pytest
import torch

import core
from core.models import build
from core.models.gru import GRULM, GRUConfig
from core.models.mlp import MLPLM, MLPConfig
from core.models.wavenet import WaveNetConfig, WaveNetLM

V, T = 11, 14
torch.manual_seed(0)
FAMILIES = {
    "mlp": MLPLM(MLPConfig(block_size=T, context=4, vocab_size=V, n_embd=8, n_hidden=32)),
    "gru": GRULM(GRUConfig(block_size=T, vocab_size=V, n_embd=8, n_hidden=16, n_layer=2)),
    "wavenet": WaveNetLM(WaveNetConfig(block_size=T, vocab_size=V, n_embd=8, n_skip=16, dilations=(1, 2, 4))),
}
for net in FAMILIES.values():
    net.eval()


def reach(net) -> int:
    """How many tokens (the current one included) a prediction may read: the whole prefix for the GRU."""
    return net.receptive_field or T


@torch.no_grad()
def moved(net, idx: torch.Tensor, j: int) -> torch.Tensor:
    """(T,) the largest change of each row's logits over every replacement of token j."""
    base = net(idx)[0][0]  # (T, V)
    worst = torch.zeros(T)
    for v in range(V):
        if v == idx[0, j]:
            continue
        other = idx.clone()
        other[0, j] = v
        worst = torch.maximum(worst, (net(other)[0][0] - base).abs().amax(-1))
    return worst


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_change_at_j_moves_only_the_rows_that_may_read_it(family):
    """Row i reads tokens i - R + 1 .. i and predicts token i + 1: exhaustive over every j and every token."""
    net = FAMILIES[family]
    idx = torch.randint(V, (1, T), generator=torch.Generator().manual_seed(1))
    R = reach(net)
    for j in range(T):
        d = moved(net, idx, j)
        assert torch.all(d[:j] == 0), (family, j, d)  # never the past: causal
        assert torch.all(d[j + R :] == 0), (family, j, R, d)  # never past the window / receptive field
        assert torch.all(d[j : min(j + R, T)] > 0), (family, j, d)  # but every row that reads it


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_decoding_state_gives_the_whole_sequence_pass(family):
    net = FAMILIES[family]
    idx = torch.randint(V, (3, T), generator=torch.Generator().manual_seed(2))
    full = net(idx)[0]
    cache = net.new_cache(3)
    parts, start = [], 0
    for size in (1, 4, 1, 1, 5, 2):  # a prompt, tokens one by one, a few at once
        parts.append(net.forward_detailed(idx[:, start : start + size], cache=cache).logits)
        start += size
    assert cache.length == T
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_state_a_step_carries(family):
    """The MLP and the WaveNet carry a fixed amount whatever the length; so does the GRU (one state)."""
    net = FAMILIES[family]
    cache = net.new_cache()
    sizes = []
    for t in range(T):
        net.forward_detailed(torch.tensor([[t % V]]), cache=cache)
        sizes.append(cache.nbytes)
    assert len(set(sizes)) == 1 and sizes[0] > 0


def test_the_wavenet_receptive_field_by_gradients_equals_the_formula():
    for dilations in [(1,), (1, 2), (1, 2, 4), (1, 2, 4, 8)]:
        net = WaveNetLM(WaveNetConfig(block_size=20, vocab_size=V, n_embd=8, n_skip=8, dilations=dilations))
        x = net.wte(torch.randint(V, (1, 20))).detach().requires_grad_(True)  # (1, T, C)
        h, skips = x.transpose(1, 2), 0
        for layer in net.layers:
            h, s, _ = layer(h)
            skips = skips + s
        net.head(skips)[0, :, -1].sum().backward()  # the last row's logits
        reached = (x.grad[0].abs().sum(-1) > 0).nonzero().flatten().tolist()
        R = 1 + sum(dilations)
        assert net.receptive_field == R
        assert reached == list(range(20 - R, 20)), (dilations, reached)


def test_a_leaky_wavenet_reads_the_future():
    net = WaveNetLM(WaveNetConfig(block_size=T, vocab_size=V, n_embd=8, n_skip=16, kernel_size=3, causal=False))
    net.eval()
    d = moved(net, torch.randint(V, (1, T), generator=torch.Generator().manual_seed(3)), 7)
    assert d[:7].max() > 0 and not net.supports_cache  # rows before 7 move: it peeks


@pytest.mark.parametrize("name", ["names-mlp", "names-gru", "names-wavenet"])
def test_shipped_families_score_a_name_as_the_sum_of_its_ledger(name):
    lm = core.load_text_model(name)
    scored = core.score(lm, "christopher")
    logp = torch.log_softmax(lm.net(torch.tensor([[0] + lm.vocab.encode("christopher")]))[0][0].double(), -1)
    targets = lm.vocab.encode("christopher") + [lm.vocab.eos_id]
    by_hand = sum(logp[i, t].item() for i, t in enumerate(targets))
    assert scored.nll == pytest.approx(-by_hand, abs=1e-9)
    assert build(lm.card["kind"], lm.card["config"]).num_params() == lm.card["num_params"]
