"""With every realism switch off the city is exactly the clean city of before the switches.

The fingerprints below were computed from the generator before the switches were added (commit
39bc17c): a SHA-256 prefix of every table written as CSV and of every truth value (frames as CSV,
arrays as raw bytes with dtype and shape, ``params`` as sorted JSON without the new ``realism``
key). No pickles: a change of the generator shows up as a changed hash, table by table.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from ganxun.simulation import generate

FINGERPRINTS = {
    0: {
        "table:topics": "94ae570fdb67e482",
        "table:units": "130ea6498b683d51",
        "table:cadres": "ef2015f670d8b1b9",
        "table:post_requirements": "b6770780a82e79e3",
        "table:institutions": "b33b66b115476c73",
        "table:teachers": "d51b39914cf3edfa",
        "table:teacher_topics": "da344a4665319839",
        "table:staff": "059428782b183936",
        "table:courses": "403544f9fb892f99",
        "table:course_topics": "c003771db2e6b8ec",
        "table:classes": "123253dd5b48b40c",
        "table:class_topics": "a8d0441bd1269194",
        "table:class_sessions": "1a6bb3643f9504f2",
        "table:enrollments": "151b129bd7df49bc",
        "table:items": "7937ba087037d060",
        "table:responses": "cc7d3e9b4cf8b1fc",
        "table:course_ratings": "4542f03dd5c30436",
        "table:staff_ratings": "ddd0c915262ded52",
        "truth:mastery": "6e4e987fb0fbf174",
        "truth:months": "63c051c35660e9e3",
        "truth:cadre_ids": "5fc4724bec4857aa",
        "truth:topic_ids": "25234102d13635bc",
        "truth:cadres": "98125460464d8386",
        "truth:cadre_prefs": "5cf239ed99cc5f09",
        "truth:course_factors": "2ccde8ebf70c00b7",
        "truth:items": "5e0fe96f18012498",
        "truth:courses": "9bf953ca923483ba",
        "truth:teacher_quality": "5332aaf7c7c2df9d",
        "truth:teachers": "fbffecbb023b3408",
        "truth:staff": "a1305aa36b36b103",
        "truth:units": "704759940ecde99e",
        "truth:params": "e71c238fcb749b55",
    },
    1: {
        "table:topics": "94ae570fdb67e482",
        "table:units": "81b8323246bf4317",
        "table:cadres": "0b02e0153ebd27ed",
        "table:post_requirements": "40db09eb062a284c",
        "table:institutions": "b33b66b115476c73",
        "table:teachers": "15fcd2701f004186",
        "table:teacher_topics": "674b31b89518593f",
        "table:staff": "de9ad393a705aa7e",
        "table:courses": "4d20a643d6d2fc0b",
        "table:course_topics": "9ec37fcb12cdf733",
        "table:classes": "9c5298e479248611",
        "table:class_topics": "0cd1d090f8f76786",
        "table:class_sessions": "d8b853765f61e7a9",
        "table:enrollments": "3bbd0a5328413156",
        "table:items": "849d8be4b1c20cc3",
        "table:responses": "6f868df9a3f2e63d",
        "table:course_ratings": "e2dce768ecc6a8b5",
        "table:staff_ratings": "fb1670b4e284da1f",
        "truth:mastery": "82cb5f87449788e9",
        "truth:months": "63c051c35660e9e3",
        "truth:cadre_ids": "5fc4724bec4857aa",
        "truth:topic_ids": "25234102d13635bc",
        "truth:cadres": "d277650a241fd3c9",
        "truth:cadre_prefs": "5d1ca14baf731dc0",
        "truth:course_factors": "eb98e2a70fba0d45",
        "truth:items": "2b6aa46bbffde789",
        "truth:courses": "b1361525c844c99b",
        "truth:teacher_quality": "0eedd39cb5899349",
        "truth:teachers": "6c026385116466ee",
        "truth:staff": "2756c516d7aa2f32",
        "truth:units": "c31c1d8c2461af70",
        "truth:params": "63ff389552cd05ab",
    },
}


def fingerprint(city) -> dict[str, str]:
    """SHA-256 prefixes of every table (as CSV) and every truth value of a city."""
    out = {}
    for name, df in city.tables.items():
        out["table:" + name] = _hash(df.to_csv(index=False).encode())
    for key, value in city.truth.items():
        if isinstance(value, pd.DataFrame):
            raw = value.to_csv(index=False).encode()
        elif isinstance(value, dict):
            clean = {k: v for k, v in value.items() if k != "realism"}
            raw = json.dumps(clean, sort_keys=True, default=str).encode()
        elif isinstance(value, pd.DatetimeIndex):
            raw = value.astype(str).str.cat(sep=",").encode()
        else:
            a = np.ascontiguousarray(np.asarray(value))
            data = a.astype(str).tobytes() if a.dtype == object else a.tobytes()
            raw = f"{a.dtype}{a.shape}".encode() + data
        out["truth:" + key] = _hash(raw)
    return out


def _hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_switch_off_gives_the_clean_city_of_before(seed):
    city = generate("tiny", seed=seed, realism=False)
    assert city.truth["params"]["realism"] == []
    assert fingerprint(city) == FINGERPRINTS[seed]


def test_an_empty_list_of_switches_is_every_switch_off(tiny_city):
    city = generate("tiny", seed=0, realism=[])
    assert fingerprint(city) == fingerprint(tiny_city) == FINGERPRINTS[0]
