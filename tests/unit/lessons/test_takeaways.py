"""The closing page's takeaways: every scene's link reads back as its state, and the numbers printed
beside the words agree with independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.lessons.chain_rule import random_joint
from core.lessons.joint_sampling import ancestral_sample
from core.lessons.page_state import from_query
from core.lessons.scenes import PAGE_STATES, Scene
from core.lessons.states import ChainRuleState, SamplingState
from core.lessons.takeaways import TAKEAWAYS, identity_evidence, ledger_evidence
from core.text.language_model import load_text_model

SCENES = [scene for t in TAKEAWAYS for scene in t.scenes]


def test_there_are_three_takeaways_each_with_a_scene():
    assert len(TAKEAWAYS) == 3
    assert all(t.scenes and t.words.count(".") >= 2 for t in TAKEAWAYS)


@pytest.mark.parametrize("scene", SCENES, ids=[s.title for s in SCENES])
def test_every_scene_link_reads_back_as_its_state_without_a_note(scene):
    state, notes = from_query(PAGE_STATES[scene.page], scene.query())
    assert (state, notes) == (scene.state, [])
    assert scene.round_trips()
    assert scene.href().startswith(f"/{scene.page}")


def test_a_scene_refuses_a_state_of_another_page():
    with pytest.raises(ValueError, match="SamplingState"):
        Scene("wrong", "sampling", ChainRuleState(), "")
    with pytest.raises(ValueError, match="known page"):
        Scene("wrong", "nowhere", SamplingState(), "")


def test_identity_evidence_against_a_brute_force_count():
    e = identity_evidence(seed=3, draws=20_000)
    joint = random_joint(3)
    assert e.orders == 6 and e.draws == 20_000
    assert 0 <= e.largest_difference < 1e-12
    # the oracle: count the same draws by encoding each sequence as a base-3 number
    draws = ancestral_sample(joint, 20_000, 3)
    counts = np.bincount(draws @ np.array([9, 3, 1]), minlength=27) / 20_000
    assert e.total_variation == pytest.approx(0.5 * np.abs(counts - joint.reshape(-1)).sum(), abs=1e-12)
    assert e.total_variation < 0.05  # 20,000 exact draws: the expected TV is about 0.01


def test_ledger_evidence_against_one_prefix_at_a_time():
    lm = load_text_model("names")
    e = ledger_evidence(lm, "emma")
    ids = [lm.vocab.bos_id, *lm.vocab.encode("emma"), lm.vocab.eos_id]
    oracle = []
    with torch.no_grad():
        for t in range(1, len(ids)):  # the uncached path: the whole prefix, one forward per position
            logits = lm.net(torch.tensor([ids[:t]]))[0][0, -1]  # (logits, loss)
            oracle.append(-torch.log_softmax(logits.double(), -1)[ids[t]].item())
    assert e.terms == pytest.approx(oracle, abs=1e-5)
    assert e.total == pytest.approx(sum(oracle), abs=1e-4)
    assert e.probability == pytest.approx(math.exp(-sum(oracle)), rel=1e-4)
    assert e.per_token == pytest.approx(sum(oracle) / 5, abs=1e-4)
