"""The PixelCNN lesson's pure parts: the animation's state machine, its running commentary, the
receptive-field view, the comparison images, the model registry and the sampling limits.

Oracles: raster-order arithmetic done by hand, the chain rule summed directly from the sampler's
own probabilities, and the receptive-field functions called one by one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.errors import InputError
from core.image.inputs import shift_image
from core.image.model import IMAGE_MODELS, ImageModel, draw_samples, image_nll
from core.lessons.pixel_animation import SPEEDS, PixelAnimation
from core.lessons.pixel_lesson import comparison_images, frame_text
from core.lessons.receptive_field import (
    blind_spot,
    field_view,
    growth,
    model_analytic_receptive_field,
    receptive_field,
)
from core.models.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig
from core.models.pixelcnn import PixelCNN, PixelCNNConfig
from core.validation import MAX_SEED


def tiny(kind: str, size: int = 8, n_layer: int = 3) -> ImageModel:
    torch.manual_seed(0)
    config = (PixelCNNConfig if kind == "pixelcnn" else GatedPixelCNNConfig)(image_size=size, n_layer=n_layer, n_embd=8)
    net = (PixelCNN if kind == "pixelcnn" else GatedPixelCNN)(config)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
    net.eval().requires_grad_(False)
    return ImageModel(name=kind, net=net, card={})


# ---------------------------------------------------------------------------------------------
# The animation


def test_controls_move_through_raster_order():
    anim = PixelAnimation()
    assert anim.next_pixel() == (0, 0) and anim.last_pixel() is None
    anim = anim.step_pixel()
    assert (anim.step, anim.next_pixel(), anim.last_pixel()) == (1, (0, 1), (0, 0))
    anim = anim.next_row()
    assert (anim.step, anim.next_pixel(), anim.last_pixel()) == (28, (1, 0), (0, 27))
    assert anim.next_row().step == 56  # from a row's start, to the next row's start
    assert PixelAnimation(step=27).next_row().step == 28
    assert PixelAnimation(step=783).next_row().step == 784  # never past the last pixel
    assert PixelAnimation(step=784).step_pixel().step == 784
    done = PixelAnimation(step=784)
    assert done.finished and done.next_pixel() is None and done.last_pixel() == (27, 27)
    assert anim.restart() == PixelAnimation()


def test_playing_advances_by_the_speed_and_stops_at_the_last_pixel():
    assert PixelAnimation(step=5).tick(14).step == 5  # paused: a tick changes nothing
    anim = PixelAnimation().toggle()
    assert anim.playing
    for speed in SPEEDS:
        frames, a = 0, PixelAnimation(playing=True)
        while a.playing:
            a, frames = a.tick(speed), frames + 1
        assert a.step == 784 and frames == math.ceil(784 / speed)
    paused = PixelAnimation(step=40, playing=True).toggle()
    assert (paused.step, paused.playing) == (40, False)
    again = PixelAnimation(step=784).toggle()  # play on a finished canvas starts from an empty one
    assert (again.step, again.playing) == (0, True)


def test_frame_text_sums_the_chain_rule_of_the_pixels_drawn():
    model = tiny("gated-pixelcnn")
    sample = draw_samples(model, 1, seed=4, temperature=1.0)
    score = image_nll(model, sample.images[0])
    p, x = sample.raw_probs[0].ravel(), sample.images[0].ravel()
    for step in (1, 9, 40, 64):
        anim = PixelAnimation(step=step, width=8, n_pixels=64)
        text = frame_text(anim, sample, score, 1.0)
        expected = -sum(math.log(p[i] if x[i] else 1 - p[i]) for i in range(step))  # the sampler's own factors
        assert score.prefix_nll(step) == pytest.approx(expected, abs=1e-4)
        assert f"**−{expected:.1f} nats**" in text.notes[-1]
        assert f"Last drawn: pixel {step} (row {(step - 1) // 8}, column {(step - 1) % 8})" in text.notes[-2]
    assert frame_text(PixelAnimation(width=8, n_pixels=64), sample, score, 1.0).metric_label.startswith(
        "Pixel 1 (row 0"
    )
    assert frame_text(PixelAnimation(step=64, width=8, n_pixels=64), sample, score, 1.0).metric_value == "64 / 64"
    assert score.prefix_nll(64) == pytest.approx(score.nll)


# ---------------------------------------------------------------------------------------------
# Receptive fields, comparison images


@pytest.mark.parametrize("kind", ["pixelcnn", "gated-pixelcnn"])
def test_field_view_gathers_the_fields_one_call_at_a_time(kind):
    model = tiny(kind, size=10, n_layer=4)
    view = field_view(model, 6, 4, 3)
    derived = [model_analytic_receptive_field(model, k, 6, 4) for k in (1, 2, 3)]
    measured = [receptive_field(model, 6, 4, k) for k in (1, 2, 3)]
    assert np.array_equal(view.analytic, growth(derived)) and np.array_equal(view.measured, growth(measured))
    assert view.n_reached == int(derived[-1].sum()) and view.n_differ == 0
    assert view.n_blind == int(blind_spot(derived[-1], 6, 4).sum())
    assert (view.n_blind > 0) == (kind == "pixelcnn")  # only the plain PixelCNN has a blind spot
    with pytest.raises(InputError, match="number of layers"):
        field_view(model, 6, 4, 5)


def test_comparison_images_count_the_ink_pushed_out_of_the_frame():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[10:20, 20:26] = 1
    variants, lost = comparison_images(image, 4, -1, 0)
    assert list(variants) == ["this image", "noise (same ink share)", "shifted (+4, -1)"]
    assert np.array_equal(variants["shifted (+4, -1)"], shift_image(image, -1, 4))
    assert lost == 20  # columns 24, 25 move to 28, 29: two columns of ten ink pixels
    assert comparison_images(image, -3, 2, 0)[1] == 0


# ---------------------------------------------------------------------------------------------
# The registry and the sampling limits


def test_registry_titles_and_conditioning_come_from_the_models():
    assert [info.title for info in IMAGE_MODELS.values()] == ["PixelCNN", "Gated PixelCNN"]
    assert not tiny("pixelcnn").is_conditional and tiny("gated-pixelcnn").is_conditional


def test_one_seed_range_for_images_and_text():
    model = tiny("pixelcnn", size=3, n_layer=2)
    assert draw_samples(model, 1, MAX_SEED).images.shape == (1, 3, 3)
    with pytest.raises(InputError, match="seed"):
        draw_samples(model, 1, MAX_SEED + 1)
