"""Bad input, everywhere: a table of what a classroom might type, paste or put in a link, per page.

Each case is driven through AppTest and must give: no exception element, a message of the expected
kind whose text says what is wrong (and what is allowed), and the page's title still drawn. After
every text case the widget gets a good value back and the page must work again without any error,
so "the page stays usable" is checked, not assumed. Uploads cannot be driven through AppTest (it has
no file_uploader), so their table goes through the function the page calls, ``preprocess_upload``.
"""

from __future__ import annotations

import io
import re
import struct
import tomllib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.errors import InputError
from core.image.inputs import MAX_UPLOAD_BYTES, MAX_UPLOAD_SIDE, preprocess_upload

ROOT = Path(__file__).resolve().parents[2]
PAGES = {
    "chain_rule": ("pages/chain_rule.py", "Chain rule"),
    "attention": ("pages/attention.py", "Attention and causality"),
    "sampling": ("pages/sampling.py", "🎲 Live sampling"),
    "pixelcnn": ("pages/pixelcnn.py", "PixelCNN: the chain rule over pixels"),
}
HUGE = "a" * 100_000
VOCAB = ["not in the model's vocabulary", "Allowed characters: abcdefghijklmnopqrstuvwxyz"]
# both default models (names, shakespeare) lack every bad character: one sentence says so
COMPARE = ["Neither model can produce this text", "not in their vocabularies"]
PIXELS = ["Type exactly 28 lines of 28 pixels", "'#' = ink, '.' = background"]

# The bad values typed into every text box (name -> (value, fragment naming the bad character)).
TEXTS = {
    "empty": ("", None),
    "whitespace": ("  \t ", "U+0009"),
    "out-of-vocabulary": ("anna 42", "'4'"),
    "emoji": ("emma😀🎲", "'😀'"),
    "right-to-left": ("שלום مرحبا", "'ש'"),
    "control characters": ("em\x00ma\x1b\x07", "U+0000"),
    "100k characters": (HUGE, None),
}


@dataclass(frozen=True)
class Case:
    page: str
    widget: str  # AppTest accessor: text_input or text_area
    key: str
    name: str  # which bad input (a key of TEXTS, or a description)
    value: str
    kind: str | None  # error / warning / info / caption the page must show; None: nothing wrong to report
    fragments: tuple[str, ...]  # each must appear in one message of that kind
    max_chars: int | None = None  # the widget's limit, for the 100k case
    setup: tuple[tuple[str, str, str], ...] = field(default=())  # (accessor, key, value) set first


def text_cases() -> list[Case]:
    cases: list[Case] = []

    def add(page, widget, key, name, kind, fragments, max_chars=None, value=None, setup=()):
        value = TEXTS[name][0] if value is None else value
        cases.append(Case(page, widget, key, name, value, kind, tuple(fragments), max_chars, tuple(setup)))

    for name, (_, bad) in TEXTS.items():
        if name == "empty":
            add("chain_rule", "text_input", "cr_ledger_text", name, "error", ["The text is empty", "at least one"])
            add("chain_rule", "text_input", "cr_compare_text", name, "error", ["The text is empty", "at least one"])
            add("attention", "text_area", "attention_text", name, "error", ["The text is empty", "at least one"])
            add("attention", "text_input", "attention_probe", name, "error", ["Probe name", "The text is empty"])
            # an empty prompt is allowed (the start token alone): the page says so
            add("sampling", "text_area", "prompt", name, "caption", ["Empty prompt", "start token"])
        elif name == "100k characters":
            # the server cuts a widget's value at max_chars (as the browser does): a long text is scored in windows
            add("chain_rule", "text_input", "cr_ledger_text", name, "info", ["more than the model's context"], 1000)
            add("chain_rule", "text_input", "cr_compare_text", name, None, [], 1000)
            add("attention", "text_area", "attention_text", name, "info", ["the model reads at most 16 tokens"], 2000)
            add("attention", "text_input", "attention_probe", name, "info", ["longer than the 16-token context"], 200)
            add("sampling", "text_area", "prompt", name, None, [], 200)
        else:
            add("chain_rule", "text_input", "cr_ledger_text", name, "error", [*VOCAB, bad])
            add("chain_rule", "text_input", "cr_compare_text", name, "error", [*COMPARE, bad])
            add("attention", "text_area", "attention_text", name, "error", [*VOCAB, bad])
            add("attention", "text_input", "attention_probe", name, "error", ["Probe name", *VOCAB, bad])
            add("sampling", "text_area", "prompt", name, "error", ["prompt cannot be used", *VOCAB, bad])
    # the same with the other vocabularies: shakespeare has spaces and punctuation, but no emoji
    shakespeare = [("cr_ledger_model", "shakespeare")]
    add(
        "chain_rule",
        "text_input",
        "cr_ledger_text",
        "emoji",
        "error",
        ["not in the model's vocabulary", "'😀'", "Allowed characters: !$&"],
        setup=[("segmented_control", *s) for s in shakespeare],
    )
    add(
        "attention",
        "text_area",
        "attention_text",
        "right-to-left",
        "error",
        ["not in the model's vocabulary", "'ש'", "Allowed characters: !$&"],
        setup=[("radio", "attention_model", "shakespeare")],
    )
    # the PixelCNN page's typed image: 28 lines of 28 pixels
    pixel_setup = [("radio", "pcnn_l_source", "Edit pixels")]
    for name in TEXTS:
        add("pixelcnn", "text_area", "pcnn_l_text", name, "error", PIXELS, setup=pixel_setup)
    add(
        "pixelcnn",
        "text_area",
        "pcnn_l_text",
        "emoji in a 28x28 grid",
        "error",
        ["Line 1 contains '😀'", "use only '#' or '1' for ink"],
        value="\n".join(["." * 27 + "😀"] * 28),
        setup=pixel_setup,
    )
    add(
        "pixelcnn",
        "text_area",
        "pcnn_l_text",
        "short line",
        "error",
        ["Line 3 has 27 characters", "exactly 28"],
        value="\n".join(["." * 28] * 2 + ["." * 27] + ["." * 28] * 25),
        setup=pixel_setup,
    )
    return cases


# Sampling page links (query parameters): (params, fragments of the warning that must name them).
QUERY_CASES = [
    ({"temperature": "-1"}, ["Ignored temperature='-1'", "from 0 (greedy) to 3"]),
    ({"temperature": "1e309"}, ["Ignored temperature='1e309'", "from 0 (greedy) to 3"]),
    ({"temperature": "hot"}, ["Ignored temperature='hot'", "from 0 (greedy) to 3"]),
    ({"top_p": "nan"}, ["Ignored top_p='nan'", "from 0.05 to 1"]),
    ({"top_p": "inf"}, ["Ignored top_p='inf'", "from 0.05 to 1"]),
    ({"top_k": "-3"}, ["Ignored top_k='-3'", "whole number >= 1"]),
    ({"top_k": "1e400"}, ["Ignored top_k='1e400'", "whole number >= 1"]),
    ({"seed": str(10**30)}, ["Ignored seed='1000000000000000000000000000000'", "from 0 to 4294967295"]),
    ({"seed": "-1"}, ["Ignored seed='-1'", "from 0 to 4294967295"]),
    ({"seed": "0x10"}, ["Ignored seed='0x10'", "from 0 to 4294967295"]),
    ({"seed": "abc"}, ["Ignored seed='abc'", "whole number"]),
    ({"model": "../../etc"}, ["Ignored model='../../etc'", "must be one of names, names-mlp"]),
    ({"model": "../../etc/passwd%00"}, ["Ignored model=", "must be one of names, names-mlp"]),
    ({"tokens": "lots"}, ["Ignored tokens='lots'", "from 1 to 300"]),
    ({"tokens": str(10**9)}, ["At most 300 tokens", "using 300 instead of 1000000000"]),
    ({"prompt": HUGE}, ["The prompt in the link had 100000 characters", "only the first 200"]),
    (
        {"model": "x" * 500, "temperature": "", "top_k": "many", "top_p": "-0", "seed": "1.5", "tokens": "0"},
        [
            "Ignored model='xxxx",
            "Ignored temperature=''",
            "Ignored top_k='many'",
            "Ignored top_p='-0'",
            "Ignored seed='1.5'",
            "At least 1 token",
        ],
    ),
]
# Prompts in a link that the model cannot read: an error naming the characters and the allowed set.
QUERY_PROMPT_CASES = [
    ({"prompt": "😀<b>x</b>"}, ["prompt cannot be used", "'😀'", "'<'", *VOCAB]),
    ({"prompt": "\x00\u202e"}, ["prompt cannot be used", "U+0000", "U+202E", *VOCAB]),
]


# ---------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


_ESCAPED = re.compile(r"\\(.)")


def plain(markdown: str) -> str:
    """A message as the user reads it: markdown escapes and bold markers removed."""
    return _ESCAPED.sub(r"\1", markdown).replace("**", "")


def messages(at: AppTest, kind: str) -> list[str]:
    return [plain(str(e.value)) for e in getattr(at, kind)]


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def assert_renders(at: AppTest, page: str) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert [t.value for t in at.title] == [PAGES[page][1]]
    for kind in ("error", "warning", "info", "caption", "success", "markdown"):
        for text in messages(at, kind):
            assert "Traceback" not in text and 'File "' not in text, text


def assert_says(at: AppTest, kind: str, fragments) -> None:
    texts = messages(at, kind)
    for fragment in fragments:
        assert any(fragment in t for t in texts), f"no {kind} says {fragment!r}; the {kind}s are: {texts}"


_apps: dict[tuple, AppTest] = {}


def app_for(case: Case) -> AppTest:
    """One AppTest per page and setup, reused across cases (each case restores the good value)."""
    key = (case.page, case.setup)
    if key not in _apps:
        at = AppTest.from_file(str(ROOT / PAGES[case.page][0]), default_timeout=120)
        run(at)
        for accessor, widget_key, value in case.setup:
            getattr(at, accessor)(key=widget_key).set_value(value)
            run(at)
        _apps[key] = at
    return _apps[key]


@pytest.fixture(scope="module", autouse=True)
def drop_apps():
    yield
    _apps.clear()


# ---------------------------------------------------------------------------------------------
# The tables


@pytest.mark.parametrize("case", text_cases(), ids=lambda c: f"{c.page}-{c.key}-{c.name}")
def test_bad_text(case: Case):
    at = app_for(case)
    widget = getattr(at, case.widget)(key=case.key)
    good = widget.value
    widget.set_value(case.value)
    run(at)
    assert_renders(at, case.page)
    if case.kind is None:
        assert not at.error and not at.warning, messages(at, "error") + messages(at, "warning")
    else:
        assert_says(at, case.kind, case.fragments)
    if case.max_chars is not None:  # the value the script saw was cut at the widget's limit
        assert len(getattr(at, case.widget)(key=case.key).value) == case.max_chars
    # still usable: a good value brings the page back without any error
    getattr(at, case.widget)(key=case.key).set_value(good)
    run(at)
    assert_renders(at, case.page)
    assert not at.error, messages(at, "error")


def test_the_table_covers_every_text_box_and_every_bad_input():
    cases = text_cases()
    boxes = {(c.page, c.key) for c in cases}
    assert boxes == {
        ("chain_rule", "cr_ledger_text"),
        ("chain_rule", "cr_compare_text"),
        ("attention", "attention_text"),
        ("attention", "attention_probe"),
        ("sampling", "prompt"),
        ("pixelcnn", "pcnn_l_text"),
    }
    for page, key in boxes:
        assert {c.name for c in cases if (c.page, c.key) == (page, key)} >= set(TEXTS), (page, key)


@pytest.mark.parametrize(
    "params,fragments",
    QUERY_CASES,
    ids=lambda v: "&".join(f"{k}={v[k][:12]}" for k in v) if isinstance(v, dict) else "",
)
def test_bad_link(params, fragments):
    at = AppTest.from_file(str(ROOT / PAGES["sampling"][0]), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    run(at)
    assert_renders(at, "sampling")
    assert_says(at, "warning", fragments)
    assert not at.error, messages(at, "error")  # the bad values were replaced: the demo works
    assert at.button(key="sampling_dismiss_notes") is not None
    # each rejected value is repeated back cut short: a 500-character value does not flood the page
    assert all(len(t) < 2000 for t in messages(at, "warning"))


@pytest.mark.parametrize("params,fragments", QUERY_PROMPT_CASES, ids=["emoji-and-html", "control-and-rtl-override"])
def test_bad_prompt_in_link(params, fragments):
    at = AppTest.from_file(str(ROOT / PAGES["sampling"][0]), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    run(at)
    assert_renders(at, "sampling")
    assert_says(at, "error", fragments)
    at.text_area(key="prompt").set_value("em")
    run(at)
    assert not at.error, messages(at, "error")


# ---------------------------------------------------------------------------------------------
# Uploads (PixelCNN page): through the function the page calls on the uploaded bytes


def _png(size: tuple[int, int] = (28, 28), mode: str = "L", fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 0).save(buf, format=fmt)
    return buf.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's header)."""
    data = bytearray(_png())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes of fields
    fields = struct.pack(">II", width, height) + bytes(ihdr[12:17])
    chunk = b"IHDR" + fields
    data[8:33] = struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return bytes(data)


UPLOAD_CASES = {
    "empty file": (b"", ["The file is empty"]),
    "not an image": (b"%PDF-1.4 this is not a picture\n" * 20, ["not an image that can be read"]),
    "text file": (b"a,b,c\n1,2,3\n", ["not an image that can be read"]),
    "truncated PNG": (_png((64, 64))[:60], ["truncated or corrupt"]),
    "10000x10000 image": (_png_claiming(10_000, 10_000), ["10000x10000 pixels", "too large to decode safely"]),
    "over the size limit": (b"\x89PNG" + b"\0" * MAX_UPLOAD_BYTES, [f"the limit is {MAX_UPLOAD_BYTES:,}"]),
    "not square": (_png((40, 20)), ["40x20 pixels, not square"]),
    "GIF": (_png(fmt="GIF"), ["The file is a GIF image"]),
}


@pytest.mark.parametrize("name", list(UPLOAD_CASES))
def test_bad_upload(name):
    data, fragments = UPLOAD_CASES[name]
    with pytest.raises(InputError) as err:
        preprocess_upload(data)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message
    # every refusal also says what is allowed
    assert f"Upload a square PNG or JPEG of one digit, at most {MAX_UPLOAD_SIDE}x{MAX_UPLOAD_SIDE}" in message


def test_the_server_upload_limit_is_below_the_core_limit():
    """Streamlit refuses files over server.maxUploadSize (MB) before the page sees them."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    limit_mb = config["server"]["maxUploadSize"]
    assert 0 < limit_mb * 1024 * 1024 <= MAX_UPLOAD_BYTES
