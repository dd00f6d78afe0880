"""Two replicas behind Debian's nginx with the deployment's config: sessions stay on one replica.

``make cluster-test`` runs this file alone; ``make test`` runs it with the others (about a minute).
"""

from __future__ import annotations

import os

import pytest

from benchmarks.cluster import nginx_binary, run_cluster
from benchmarks.load_test import rss_growth_bound_mb

pytestmark = pytest.mark.e2e

SESSIONS, SECONDS = 4, 10


@pytest.fixture(scope="module")
def cluster():
    if nginx_binary() is None:
        message = "the cluster test needs Debian's nginx (apt-get install nginx)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI must run it", pytrace=False)
        pytest.skip(message)
    result = run_cluster(replicas=2, sessions=SESSIONS, seconds=SECONDS)
    print(result.summary())
    return result


def test_every_session_holds_through_nginx(cluster):
    problems = cluster.load.problems(2 * rss_growth_bound_mb(SESSIONS))  # two servers
    assert not problems, "\n".join(problems)
    assert cluster.load.held == SESSIONS, cluster.summary()


def test_each_browser_stays_on_one_replica(cluster):
    # the warm-up browser and every session (with its websocket) are in the log, each under its cookie
    assert len(cluster.replicas_per_browser) >= SESSIONS + 1, cluster.summary()
    assert not cluster.split_browsers, cluster.summary()


def test_fresh_visitors_are_spread_over_both_replicas(cluster):
    # 20 cookie-less requests each hashed by a random key: all on one replica has probability 2**-19
    assert len(cluster.spread) == 2 and min(cluster.spread.values()) >= 2, cluster.summary()
