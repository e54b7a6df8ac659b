"""The canary split: accurate, sticky per entity key, independent of the process, redrawn per rollout."""

from __future__ import annotations

import subprocess
import sys

from server.routing.router import bucket


def test_split_accuracy_at_ten_percent_over_ten_thousand_keys() -> None:
    keys = [f"customer-{i:06d}" for i in range(10_000)]
    share = sum(bucket("credit-pd:2", k) < 10.0 for k in keys) / len(keys)
    assert 0.09 <= share <= 0.11, share
    for weight in (1.0, 5.0, 25.0, 50.0):
        got = sum(bucket("credit-pd:2", k) < weight for k in keys) / len(keys) * 100
        assert abs(got - weight) <= max(1.0, weight * 0.1), (weight, got)


def test_a_customer_stays_on_one_arm_while_the_weight_only_grows() -> None:
    keys = [f"acct-{i}" for i in range(2000)]
    at5 = {k for k in keys if bucket("m:3", k) < 5.0}
    at25 = {k for k in keys if bucket("m:3", k) < 25.0}
    assert at5 <= at25  # stepping up never moves a canary customer back to the champion


def test_the_bucket_is_the_same_in_another_process() -> None:
    here = [bucket("m:7", f"k{i}") for i in range(5)]
    code = "from server.routing.router import bucket; print([bucket('m:7', f'k{i}') for i in range(5)])"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert there.strip() == repr(here)


def test_a_new_rollout_draws_a_new_sample() -> None:
    keys = [f"c{i}" for i in range(5000)]
    a = {k for k in keys if bucket("m:2", k) < 10.0}
    b = {k for k in keys if bucket("m:3", k) < 10.0}
    assert len(a & b) < 0.3 * len(a)  # independent draws overlap by about 10 %
