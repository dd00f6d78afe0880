"""core.lessons.causality and core.figures.attention against independent oracles.

Oracles: hand-computed softmax, attention recomputed from the network's parameters, a brute-force
loop over single replacements (one forward pass each), and the model cards read as plain JSON.
"""

import json
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from core import InputError, VocabError, load_text_model
from core.checkpoint import MODELS_DIR
from core.figures.attention import (
    MASKED_COLOUR,
    dependence_heatmap,
    mask_figure,
    toy_matrix_figure,
    training_curves_figure,
    value_heatmap,
)
from core.figures.attention_grid import attention_grid, head_summary_heatmap, layer_heads_grid
from core.lessons.attention_lesson import (
    HEAD_STATISTICS,
    crop_note,
    first_position_weight,
    gqa_sentence,
    kv_groups,
    kv_head_of,
    llm_dependence,
    mean_distance,
    mean_entropy,
    n_kv_heads,
    replacement_candidates,
)
from core.lessons.causality import (
    MAX_SHOWN_TOKENS,
    attention_weights,
    character_labels,
    dependence_matrix,
    max_above_diagonal,
    sample_texts,
    text_window,
    toy_attention,
    training_summary,
    where_it_looks,
)
from core.models.llama import apply_rope
from core.models.transformer import GPT, GPTConfig
from core.text.language_model import TextModel, context_ids, generate, logits_for_context
from core.text.vocab import text_vocab

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def names():
    return load_text_model("names")


@pytest.fixture(scope="module")
def leaky():
    return load_text_model("names-leaky")


@pytest.fixture(scope="module")
def tiny_text_lm():
    """A random GPT over a small free-text vocabulary with a '<s>' start token (shakespeare-shaped)."""
    vocab = text_vocab("ab c\n")
    torch.manual_seed(0)
    net = GPT(GPTConfig(block_size=8, vocab_size=vocab.size, n_layer=2, n_head=2, n_embd=16)).eval()
    return TextModel(name="tiny", vocab=vocab, net=net, card={})


# ---------------------------------------------------------------------------------------------
# Windows and labels


def test_window_starts_with_start_token(names):
    w = text_window(names, "Emma")
    assert w.ids == [0, 5, 13, 13, 1]  # '.', e, m, m, a (upper case folded)
    assert w.labels == [".", "e", "m", "m", "a"]
    assert w.n_dropped == 0 and w.starts_with_start_token


def test_window_makes_blanks_visible(tiny_text_lm):
    w = text_window(tiny_text_lm, "a b\nc")
    assert w.labels == ["<s>", "a", "␣", "b", "⏎", "c"]
    assert character_labels("a b\nc") == w.labels


def test_window_rejects_empty_and_unknown_characters(names):
    with pytest.raises(InputError, match="empty"):
        text_window(names, "")
    with pytest.raises(VocabError) as e:
        text_window(names, "zoë 7")
    assert set(e.value.bad_chars) == {"ë", " ", "7"}
    assert "abcdefghijklmnopqrstuvwxyz" in str(e.value)


def test_window_crops_to_the_last_block_size_tokens(names):
    text = "abcdefghijklmnopqrst"  # 20 letters + start token = 21 tokens > block 16
    w = text_window(names, text)
    assert w.T == names.block_size == 16
    assert w.n_dropped == 5
    assert w.ids == context_ids(names, text)[-16:]
    assert w.labels[0] == "e" and not w.starts_with_start_token


def test_window_display_limit_below_block_size(tiny_text_lm):
    w = text_window(tiny_text_lm, "abcabc", max_tokens=4)
    assert w.limit == 4
    assert w.labels == ["c", "a", "b", "c"]
    assert w.n_dropped == 3


# ---------------------------------------------------------------------------------------------
# The toy example


def test_toy_masked_scores_and_softmax_by_hand():
    toy = toy_attention(["<s>", "a", "b", "c", "d"], seed=3)
    T = 5
    for i in range(T):
        for j in range(T):
            if j > i:
                assert toy.masked_scores[i, j] == -math.inf
                assert toy.weights[i, j] == 0.0  # exactly, not approximately
            else:
                assert toy.masked_scores[i, j] == toy.scores[i, j]
        # softmax over the allowed prefix, by hand with math.exp
        exps = [math.exp(toy.scores[i, j]) for j in range(i + 1)]
        for j in range(i + 1):
            assert toy.weights[i, j] == pytest.approx(exps[j] / math.fsum(exps), rel=1e-12)
    assert np.allclose(toy.weights.sum(-1), 1.0, atol=1e-12)
    assert toy.weights[0, 0] == 1.0  # the first row can only read the start token
    # scores are rounded to one decimal so a student can recompute the softmax
    assert np.allclose(toy.scores * 10, np.round(toy.scores * 10))


def test_toy_is_deterministic_per_seed():
    a, b, c = (toy_attention(list("abcd"), seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.scores, b.scores)
    assert not np.array_equal(a.scores, c.scores)


# ---------------------------------------------------------------------------------------------
# Learned attention


def _layer0_attention_by_hand(net: GPT, ids: list[int]) -> torch.Tensor:
    """(n_head, T, T) first-layer attention recomputed from the parameters (a separate code path)."""
    cfg = net.config
    T = len(ids)
    x = net.wte.weight[ids] + net.wpe.weight[:T]  # (T, C)
    h = F.layer_norm(x, (cfg.n_embd,), net.blocks[0].ln_1.weight, net.blocks[0].ln_1.bias)
    attn = net.blocks[0].attn.c_attn
    qkv = h @ attn.weight.T + attn.bias  # (T, 3C)
    q, k, _ = qkv.split(cfg.n_embd, dim=1)
    hs = cfg.n_embd // cfg.n_head
    out = []
    for head in range(cfg.n_head):
        qh, kh = q[:, head * hs : (head + 1) * hs], k[:, head * hs : (head + 1) * hs]  # (T, hs)
        s = (qh @ kh.T) / math.sqrt(hs)  # (T, T)
        if cfg.causal:
            s = s.masked_fill(torch.ones(T, T).triu(1).bool(), -math.inf)
        out.append(torch.softmax(s, dim=-1))
    return torch.stack(out)


@pytest.mark.parametrize("text", ["emma", "christopher"])
def test_causal_attention_rows_sum_to_one_and_are_zero_above_diagonal(names, text):
    w = text_window(names, text)
    att = attention_weights(names, w)
    cfg = names.net.config
    assert att.shape == (cfg.n_layer, cfg.n_head, w.T, w.T)
    assert np.allclose(att.sum(-1), 1.0, atol=1e-5)
    upper = np.triu(np.ones((w.T, w.T), dtype=bool), k=1)
    assert (att[..., upper] == 0.0).all()  # exactly zero
    assert max_above_diagonal(att) == 0.0
    assert (att[..., ~upper] > 0).all()  # a softmax of finite scores is never 0
    with torch.no_grad():
        expected = _layer0_attention_by_hand(names.net, w.ids).numpy()
    assert np.allclose(att[0], expected, atol=1e-5)


def test_leaky_attention_reads_the_future(leaky):
    w = text_window(leaky, "isabella")
    att = attention_weights(leaky, w)
    assert np.allclose(att.sum(-1), 1.0, atol=1e-5)
    assert max_above_diagonal(att) > 0.1
    with torch.no_grad():
        expected = _layer0_attention_by_hand(leaky.net, w.ids).numpy()
    assert np.allclose(att[0], expected, atol=1e-5)


def test_attention_of_a_shakespeare_shaped_model(tiny_text_lm):
    w = text_window(tiny_text_lm, "ab c")
    att = attention_weights(tiny_text_lm, w)
    assert att.shape == (2, 2, 5, 5)
    assert max_above_diagonal(att) == 0.0
    assert np.allclose(att.sum(-1), 1.0, atol=1e-6)


def test_where_it_looks_lists_the_heaviest_keys():
    row = np.array([0.1, 0.5, 0.0, 0.3, 0.1])
    looks = where_it_looks(row, list("abcde"), top=3)
    assert [(x.position, x.token, x.weight) for x in looks] == [(1, "b", 0.5), (3, "d", 0.3), (0, "a", 0.1)]
    # a weight of exactly 0 (a masked position) is not a place the query looks
    assert [x.position for x in where_it_looks(row, list("abcde"), top=10)] == [1, 3, 0, 4]


def test_max_above_diagonal_reads_only_the_strict_upper_triangle():
    m = np.array([[9.0, 0.0, 0.2], [9.0, 9.0, -0.7], [9.0, 9.0, 9.0]])
    assert max_above_diagonal(m) == pytest.approx(0.7)
    assert max_above_diagonal(np.ones((1, 1))) == 0.0
    assert max_above_diagonal(np.stack([np.tril(np.ones((3, 3)))] * 2)) == 0.0


# ---------------------------------------------------------------------------------------------
# The dependence matrix: checked against a brute-force loop


@torch.no_grad()
def _dependence_brute_force(lm: TextModel, ids: list[int]) -> np.ndarray:
    """D[i, j] by one forward pass per (position, replacement) pair."""
    T, V = len(ids), lm.vocab.size
    base = torch.softmax(lm.net(torch.tensor([ids]))[0][0].double(), dim=-1)  # (T, V)
    D = np.zeros((T, T))
    for j in range(T):
        for v in range(V):
            changed = list(ids)
            changed[j] = v
            p = torch.softmax(lm.net(torch.tensor([changed]))[0][0].double(), dim=-1)  # (T, V)
            tv = 0.5 * (p - base).abs().sum(-1)  # (T,)
            D[:, j] = np.maximum(D[:, j], tv.numpy())
    return D


def test_dependence_of_the_causal_model_is_lower_triangular(names):
    ids = text_window(names, "isabella").ids
    D = dependence_matrix(names, ids).values
    T = len(ids)
    upper = np.triu(np.ones((T, T), dtype=bool), k=1)
    assert (D[upper] == 0.0).all()  # exactly: no prediction depends on a later token
    assert (np.diag(D) > 1e-3).all()  # the token just read always matters
    assert D[~upper].mean() > 0.01


def test_dependence_of_the_leaky_model_is_dense(leaky):
    ids = text_window(leaky, "isabella").ids
    D = dependence_matrix(leaky, ids).values
    T = len(ids)
    upper = np.triu(np.ones((T, T), dtype=bool), k=1)
    assert max_above_diagonal(D) > 0.5
    assert (D[upper] > 0).mean() > 0.9  # (nearly) every later token moves the prediction, if only slightly
    # the leaky model 'predicts' token i+1 by reading it: the first superdiagonal is large
    assert np.diag(D, k=1).mean() > 0.5


@pytest.mark.parametrize("model", ["names", "names-leaky"])
def test_dependence_matches_brute_force(model, names, leaky):
    lm = names if model == "names" else leaky
    ids = text_window(lm, "ava").ids
    dep = dependence_matrix(lm, ids)
    expected = _dependence_brute_force(lm, ids)
    assert np.allclose(dep.values, expected, atol=1e-5)
    # the recorded replacement attains the maximum
    T = len(ids)
    with torch.no_grad():
        base = torch.softmax(lm.net(torch.tensor([ids]))[0][0].double(), dim=-1)
        for i in range(T):
            for j in range(i + 1):
                changed = list(ids)
                changed[j] = int(dep.best_replacement[i, j])
                p = torch.softmax(lm.net(torch.tensor([changed]))[0][0, i].double(), dim=-1)
                assert 0.5 * (p - base[i]).abs().sum().item() == pytest.approx(dep.values[i, j], abs=1e-5)


def test_dependence_of_a_random_causal_model_is_zero_above_diagonal(tiny_text_lm):
    ids = text_window(tiny_text_lm, "ab cab").ids
    D = dependence_matrix(tiny_text_lm, ids).values
    assert max_above_diagonal(D) == 0.0
    assert np.allclose(D, _dependence_brute_force(tiny_text_lm, ids), atol=1e-6)


def test_dependence_refuses_sequences_longer_than_the_context(names):
    with pytest.raises(InputError, match="context"):
        dependence_matrix(names, [0] * 17)


# ---------------------------------------------------------------------------------------------
# Cards and samples


@pytest.mark.parametrize("model", ["names", "names-leaky"])
def test_training_summary_reads_the_card(model, names, leaky):
    lm = names if model == "names" else leaky
    card = json.loads((MODELS_DIR / f"{model}.json").read_text())
    s = training_summary(lm)
    assert s.name == model and s.causal == (model == "names")
    assert s.heldout_nll == card["metrics"]["heldout_nll"]
    assert s.train_nll == card["metrics"]["train_nll"]
    assert [p["iter"] for p in s.curve] == [p["iter"] for p in card["curve"]]
    assert [p["heldout_nll"] for p in s.curve] == [p["heldout_nll"] for p in card["curve"]]


def test_leaky_training_loss_is_far_lower(names, leaky):
    causal, peeking = training_summary(names), training_summary(leaky)
    assert peeking.train_nll < 0.5 * causal.train_nll  # it learned to copy the next input


def test_training_summary_without_curve(tiny_text_lm):
    s = training_summary(tiny_text_lm)
    assert s.curve == [] and s.heldout_nll is None and s.train_nll is None


def test_samples_are_reproducible_and_match_generate(names):
    a = sample_texts(names, 3, seed=5)
    assert a == sample_texts(names, 3, seed=5)
    for k, s in enumerate(a):
        steps = list(generate(names, "", names.block_size - 1, seed=5 + k))
        assert s.ended == steps[-1].is_end
        assert s.text == "".join(st.token for st in steps if not st.is_end)
        assert s.logprob == pytest.approx(sum(st.logprob for st in steps))
        assert set(s.text) <= set("abcdefghijklmnopqrstuvwxyz")


# ---------------------------------------------------------------------------------------------
# Figures: orientation, labels, masked cells, hover values


def test_value_heatmap_orientation_labels_and_mask():
    labels = [".", "e", "m", "m", "a"]
    T = len(labels)
    values = np.tril(np.arange(T * T, dtype=float).reshape(T, T) / 100)
    allowed = np.tril(np.ones((T, T), dtype=bool))
    fig = value_heatmap(values, labels, "t", allowed=allowed, highlight_row=2)
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 at the top
    assert list(fig.layout.xaxis.ticktext) == labels and list(fig.layout.yaxis.ticktext) == labels
    assert list(fig.layout.yaxis.tickvals) == list(range(T))
    heat, masked = fig.data[0], fig.data[1]
    z = np.array(heat.z, dtype=float)
    assert z[3, 1] == values[3, 1] and np.isnan(z[1, 3])  # row 3 reads column 1; row 1 may not read 3
    zm = np.array(masked.z, dtype=float)
    assert not np.isnan(zm[1, 3]) and np.isnan(zm[3, 1])
    assert masked.colorscale[0][1] == MASKED_COLOUR
    assert "row 3 'm' reads column 1 'e'" in heat.customdata[3][1] and "0.1600" in heat.customdata[3][1]
    (shape,) = fig.layout.shapes
    assert (shape.y0, shape.y1) == (1.5, 2.5)


def test_value_heatmap_without_mask_draws_every_cell():
    values = np.full((3, 3), 0.5)
    fig = value_heatmap(values, list("abc"), "t")
    assert len(fig.data) == 1 and not np.isnan(np.array(fig.data[0].z, dtype=float)).any()


def test_mask_figure_marks_forbidden_cells():
    allowed = np.tril(np.ones((4, 4), dtype=bool))
    fig = mask_figure(allowed, list("abcd"), "m")
    assert fig.layout.yaxis.autorange == "reversed"
    read, forbidden = (np.array(t.z, dtype=float) for t in fig.data)
    assert np.array_equal(~np.isnan(read), allowed) and np.array_equal(~np.isnan(forbidden), ~allowed)
    assert "may NOT read" in fig.data[1].customdata[0][3]


def test_toy_figure_writes_minus_infinity_and_exact_zeros():
    toy = toy_attention(list("abc"), seed=0)
    masked = toy_matrix_figure(toy.masked_scores, toy.labels, "m")
    assert masked.data[1].text[0][2] == "−∞" and masked.data[0].text[1][0] == "-0.30"
    weights = toy_matrix_figure(toy.weights, toy.labels, "w")
    value, grey = weights.data
    assert value.text[0][0] == "1.00" and grey.text[0][1] == "0.00"  # exp(−∞) = 0, drawn as masked
    assert value.text[0][1] == "" and grey.text[0][0] == ""  # each number is written once
    assert np.isnan(np.array(value.z, dtype=float)[0, 1]) and grey.colorscale[0][1] == MASKED_COLOUR
    assert weights.layout.yaxis.autorange == "reversed"


def test_attention_grid_has_one_panel_per_head():
    L, H, T = 2, 3, 4
    w = np.tile(np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None], (L, H, 1, 1))
    allowed = np.tril(np.ones((T, T), dtype=bool))
    fig = attention_grid(w, list("abcd"), allowed=allowed, selected=(1, 2))
    assert len(fig.data) == 2 * L * H  # a value and a mask trace per panel
    assert sum(t.name == "masked (future)" for t in fig.data) == L * H
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == "layer 1 · head 1" and titles[-1] == "layer 2 · head 3"
    assert all(fig.layout[f"yaxis{k if k > 1 else ''}"].autorange == "reversed" for k in range(1, L * H + 1))
    (outline,) = fig.layout.shapes
    assert outline.xref == "x6 domain"  # layer 2, head 3 is the sixth panel


def test_attention_grid_panels_tile_the_figure_without_overlap():
    L, H, T = 4, 4, 3  # the shipped models' shape, where the float sums of the domains can leave [0, 1]
    fig = attention_grid(np.full((L, H, T, T), 1 / T), list("abc"))
    boxes = []
    for k in range(1, L * H + 1):
        sfx = "" if k == 1 else str(k)
        x, y = fig.layout[f"xaxis{sfx}"], fig.layout[f"yaxis{sfx}"]
        assert (x.anchor, y.anchor) == (f"y{sfx}", f"x{sfx}")
        assert fig.data[k - 1].xaxis == f"x{sfx}" and fig.data[k - 1].yaxis == f"y{sfx}"
        boxes.append((*x.domain, *y.domain))
    assert all(0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 for x0, x1, y0, y1 in boxes)
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            ax0, ax1, ay0, ay1 = boxes[a]
            bx0, bx1, by0, by1 = boxes[b]
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, (a, b)
    # layer 1 on top, head 1 on the left; the title of each panel sits on its top edge
    assert boxes[0][3] == 1.0 and boxes[0][0] == 0.0 and boxes[-1][2] == 0.0 and boxes[-1][1] == 1.0
    assert [a.y for a in fig.layout.annotations] == [b[3] for b in boxes]
    # only the outer panels carry token labels
    assert fig.layout.xaxis.showticklabels is False and fig.layout.xaxis13.showticklabels is True
    assert fig.layout.yaxis.showticklabels is True and fig.layout.yaxis2.showticklabels is False


def test_training_curves_figure_plots_the_card_values(names, leaky):
    summaries = [training_summary(names), training_summary(leaky)]
    fig = training_curves_figure(summaries)
    assert len(fig.data) == 4
    assert list(fig.data[0].y) == [p["heldout_nll"] for p in summaries[0].curve]
    assert list(fig.data[3].y) == [p["train_nll"] for p in summaries[1].curve]
    assert fig.data[2].name == "names-leaky: held-out"


def test_dependence_heatmap_greys_out_exact_zeros_only():
    values = np.array([[0.5, 0.0, 0.0], [0.2, 0.7, 1e-9], [0.1, 0.3, 0.9]])
    fig = dependence_heatmap(values, list(".ab"), "d")
    value, zeros = fig.data
    z, zz = np.array(value.z, dtype=float), np.array(zeros.z, dtype=float)
    assert np.array_equal(np.isnan(z), values == 0.0)  # 1e-9 is not zero: it stays coloured
    assert np.array_equal(~np.isnan(zz), values == 0.0)
    assert fig.layout.yaxis.autorange == "reversed" and list(fig.layout.xaxis.ticktext) == [".", "a", "b"]
    assert "0 exactly" in zeros.customdata[0][1] and "0.7000" in value.customdata[1][1]
    # a log colour scale: 1e-9 (clipped to 1e-8) and 0.7 are both visible, far apart on the scale
    assert z[1, 2] == -8.0 and z[1, 1] == pytest.approx(np.log10(0.7))
    assert (value.zmin, value.zmax) == (-8, 0.0) and list(value.colorbar.ticktext)[-1] == "1"


def test_start_token_label_survives_plotly_html():
    """Plotly reads '<s>' as a strike-through tag; labels must reach it escaped."""
    labels = ["<s>", "a", "&"]
    fig = value_heatmap(np.tril(np.ones((3, 3))) / 3, labels, "t", allowed=np.tril(np.ones((3, 3), dtype=bool)))
    assert list(fig.layout.xaxis.ticktext) == ["&lt;s&gt;", "a", "&amp;"]
    assert "row 1 'a' reads column 0 '&lt;s&gt;'" in fig.data[0].customdata[1][0]
    assert "'&lt;s&gt;' may NOT read" in fig.data[1].customdata[0][1]
    assert list(mask_figure(np.ones((3, 3), dtype=bool), labels, "m").layout.yaxis.ticktext)[0] == "&lt;s&gt;"


# ---------------------------------------------------------------------------------------------
# The real LLM (SmolLM2-135M): attention, grouped-query heads, per-head numbers, the bounded check

LLM_TEXT = "The capital of France is Paris."


@pytest.fixture(scope="module")
def llm():
    return load_text_model("smollm2")  # cached per process by core.load_text_model


@pytest.fixture(scope="module")
def llm_attention(llm):
    w = text_window(llm, LLM_TEXT, MAX_SHOWN_TOKENS)
    return w, attention_weights(llm, w)


def test_llm_window_labels_are_bpe_tokens_with_visible_spaces(llm):
    w = text_window(llm, LLM_TEXT, MAX_SHOWN_TOKENS)
    assert w.labels[:3] == ["<|endoftext|>", "The", "␣capital"] and "␣Paris" in w.labels
    assert w.ids == context_ids(llm, LLM_TEXT)
    # a control token typed by the user is plain text: several ordinary tokens, never the control id
    typed = text_window(llm, "<|im_end|>", MAX_SHOWN_TOKENS)
    assert llm.vocab.special_ids["<|im_end|>"] not in typed.ids and typed.T > 2


def test_llm_attention_rows_sum_to_one_and_are_zero_above_the_diagonal(llm_attention):
    w, att = llm_attention
    assert att.shape == (30, 9, w.T, w.T)
    assert np.allclose(att.sum(-1), 1.0, atol=1e-5)
    upper = np.triu(np.ones((w.T, w.T), dtype=bool), k=1)
    assert (att[..., upper] == 0.0).all()


def test_llm_heads_read_their_kv_head_by_the_grouping(llm, llm_attention):
    """Layer 1 recomputed from its projections with kv head h // 3; the other grouping (h % 3) is wrong."""
    assert kv_groups(9, 3) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert [kv_head_of(h, 9, 3) for h in range(9)] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert n_kv_heads(llm) == 3
    w, att = llm_attention  # computed by the LLM's worker process
    from core.text.gguf_llm import load_smollm2

    net, T, hs = load_smollm2("q4")[0], w.T, 576 // 9  # the same weights, here, to read layer 1 from the inside
    with torch.no_grad():
        x = net.wte(torch.tensor([w.ids]))  # (1, T, C)
        qkv = net.blocks[0].attn.c_attn(net.blocks[0].ln_1(x))[0]  # (T, (9 + 2 * 3) * hs)
        qk = apply_rope(qkv[None, :, : 12 * hs].view(1, T, 12, hs), net.rope_cos[:T], net.rope_sin[:T])[0]
        q, k = qk[:, :9], qk[:, 9:]  # (T, 9, hs), (T, 3, hs)
        future = torch.ones(T, T).triu(1).bool()

        def head_weights(h, g):
            s = (q[:, h] @ k[:, g].T / math.sqrt(hs)).masked_fill(future, -math.inf)
            return torch.softmax(s.double(), dim=-1).numpy()

        for h in range(9):
            assert np.allclose(att[0, h], head_weights(h, h // 3), atol=2e-3), h
        assert any(not np.allclose(att[0, h], head_weights(h, h % 3), atol=2e-3) for h in range(9))


def test_head_statistics_on_uniform_causal_weights():
    T = 5
    uniform = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]  # row i reads 0..i evenly
    rows = range(1, T)
    assert mean_distance(uniform) == pytest.approx(np.mean([i / 2 for i in rows]))
    assert mean_entropy(uniform) == pytest.approx(np.mean([math.log(i + 1) for i in rows]))
    assert first_position_weight(uniform) == pytest.approx(np.mean([1 / (i + 1) for i in rows]))
    itself = np.eye(T)  # every row reads only itself
    assert mean_distance(itself) == 0.0 and mean_entropy(itself) == 0.0 and first_position_weight(itself) == 0.0
    stacked = np.stack([[uniform, itself]] * 3)  # (3 layers, 2 heads, T, T): one number per head
    for stat in HEAD_STATISTICS.values():
        assert stat.compute(stacked).shape == (3, 2)


def test_llm_head_statistics_are_in_range(llm_attention):
    w, att = llm_attention
    dist, ent, first = mean_distance(att), mean_entropy(att), first_position_weight(att)
    assert dist.shape == ent.shape == first.shape == (30, 9)
    assert (dist >= 0).all() and (dist <= w.T - 1).all()
    assert (ent >= -1e-9).all() and (ent <= math.log(w.T) + 1e-9).all()
    assert (first >= 0).all() and (first <= 1).all()
    i, j = 3, 2  # spot-check one head by a plain loop
    assert dist[i, j] == pytest.approx(
        np.mean([sum(att[i, j, r, c] * (r - c) for c in range(r + 1)) for r in range(1, w.T)])
    )


@torch.no_grad()
def test_replacement_candidates_are_the_models_likeliest_other_tokens(llm):
    ids = context_ids(llm, "The cat sat")
    cands = replacement_candidates(llm, ids, k=3)
    assert len(cands) == len(ids) and all(len(c) == 3 for c in cands)
    for j, c in enumerate(cands):
        assert ids[j] not in c
        logits = logits_for_context(llm, ids[: max(j, 1)])  # another code path: the prediction before j
        top = [t for t in logits.topk(4).indices.tolist() if t != ids[j]][:3]
        assert c == top


@torch.no_grad()
def test_llm_dependence_matches_single_replacements_and_is_causal(llm):
    ids = context_ids(llm, "The cat sat on")
    dep, cands = llm_dependence(llm, ids, k=2)
    T = len(ids)
    upper = np.triu(np.ones((T, T), dtype=bool), k=1)
    assert (dep.values[upper] == 0.0).all()  # exactly: SmolLM2 never reads a later token
    assert (np.diag(dep.values) > 1e-3).all()
    base = torch.softmax(llm.net(torch.tensor([ids]))[0][0].double(), dim=-1)  # (T, V)
    for j in (1, T - 1):  # brute force: one forward pass per replacement
        expected = np.zeros(T)
        for v in cands[j]:
            changed = list(ids)
            changed[j] = v
            p = torch.softmax(llm.net(torch.tensor([changed]))[0][0].double(), dim=-1)
            expected = np.maximum(expected, (0.5 * (p - base).abs().sum(-1)).numpy())
        assert np.allclose(dep.values[j:, j], expected[j:], atol=5e-3)  # batched vs single: bf16 rounding
        assert set(dep.best_replacement[j:, j]) <= set(cands[j])


def test_dependence_with_given_replacements_matches_brute_force(names):
    ids = text_window(names, "ava").ids
    replacements = [[1, 2], [3], [4, 5, 6], [7]]
    dep = dependence_matrix(names, ids, replacements)
    full = dependence_matrix(names, ids)
    assert (dep.values <= full.values + 1e-12).all()  # a max over fewer replacements
    with torch.no_grad():
        base = torch.softmax(names.net(torch.tensor([ids]))[0][0].double(), dim=-1)
        for j, vs in enumerate(replacements):
            expected = np.zeros(len(ids))
            for v in vs:
                changed = list(ids)
                changed[j] = v
                p = torch.softmax(names.net(torch.tensor([changed]))[0][0].double(), dim=-1)
                expected = np.maximum(expected, (0.5 * (p - base).abs().sum(-1)).numpy())
            assert np.allclose(dep.values[:, j], expected, atol=1e-6)
    with pytest.raises(InputError, match="replacements"):
        dependence_matrix(names, ids, replacements[:2])


def test_crop_note_says_the_limits(llm):
    short = text_window(llm, LLM_TEXT, MAX_SHOWN_TOKENS)
    assert crop_note(short, llm.block_size, len(LLM_TEXT)) is None
    pasted = "word " * 400  # 2000 characters: what the text box keeps of a 100k paste
    w = text_window(llm, pasted, MAX_SHOWN_TOKENS)
    note = crop_note(w, llm.block_size, len(pasted))
    assert w.T == 32 and "at most 2,000 characters" in note and "legible up to 32 tokens" in note
    assert f"make {w.T + w.n_dropped} tokens" in note and f"could read up to {llm.block_size:,}" in note


def test_gqa_sentence_names_every_group():
    s = gqa_sentence(9, 3)
    assert "heads 1–3 share key/value head 1" in s and "heads 7–9 share key/value head 3" in s


def test_layer_heads_grid_puts_each_kv_group_on_one_row():
    T, groups = 4, kv_groups(9, 3)
    w = np.random.default_rng(0).dirichlet(np.ones(T), size=(9, T)) * np.tril(np.ones((T, T)))
    fig = layer_heads_grid(w, list("abcd"), 4, groups, np.tril(np.ones((T, T), dtype=bool)), selected_head=5)
    values = [t for t in fig.data if t.name != "masked (future)"]
    assert len(values) == 9 and sum(t.name == "masked (future)" for t in fig.data) == 9
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:4] == ["head 1 · kv 1", "head 2 · kv 1", "head 3 · kv 1", "head 4 · kv 2"]
    for k, t in enumerate(values):  # panel k draws head k's weights (masked cells as NaN)
        assert np.allclose(np.nan_to_num(np.array(t.z, dtype=float)), w[k])
    row_of = [fig.layout[f"yaxis{k + 1 if k else ''}"].domain for k in range(9)]
    assert row_of[0] == row_of[1] == row_of[2] != row_of[3]  # one row per kv group
    (outline,) = fig.layout.shapes
    assert outline.xref == "x6 domain"  # head 6


def test_head_summary_heatmap_reads_layer_down_and_head_across():
    values = np.arange(30 * 9, dtype=float).reshape(30, 9) / 270
    fig = head_summary_heatmap(values, "t", "weight", selected=(4, 7), group_size=3)
    (trace,) = fig.data
    assert np.array_equal(np.array(trace.z), values) and list(trace.y) == list(range(1, 31))
    assert fig.layout.yaxis.autorange == "reversed" and list(fig.layout.xaxis.ticktext)[0] == "head 1"
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [s.x0 for s in lines] == [3.5, 6.5]  # between heads 3|4 and 6|7
    (box,) = [s for s in fig.layout.shapes if s.type == "rect"]
    assert (box.x0, box.y0) == (7.5, 4.5)  # head 8, layer 5
    assert "layer 5, head 8" in trace.customdata[4][7]
