"""The realism switches: the messiness of real records, each behind a switch, default on.

A clean city is a test world where cadres never change post, nothing is compulsory, ratings
spread over 1–5 and every exam is kept item by item. Real exports are messier, and a model that
only ever saw the clean city fails on them. Each switch below adds one such messiness to the
generated tables and puts its truth beside it (only evaluation reads ``truth``); with every
switch off the tables and truth are exactly those of the clean city for the same seed.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Switch name -> what it does (one line each), in the order they are applied.
REALISM_SWITCHES: dict[str, str] = {
    "careers": "promotions, transfers, hires, leavers and one unit merger (cadre_posts); "
    "the promoted are likely called to a 任职培训 class within 12 months",
    "mandatory": "a yearly 必修 online package for every cadre, 必修 rollcall classes, the hour "
    "rules (training_rules) and a year-end rush of online hours that teach little",
    "inflated_ratings": "about 95% of scores are 4 or 5 (an ordinal ceiling on the latent score)",
    "guessing": "items have a guessing floor (3PL): multiple choice ~0.15-0.3, true/false ~0.5",
    "selective_self_tests": "weaker, less active cadres take fewer self-tests",
    "exam_formats": "missing pre-tests, exams near (not on) the class days, unlabelled phases "
    "and classes that keep totals only (exam_scores)",
    "concentrated_rollcall": "rollcall propensity follows reserve-cadre status (后备干部) and "
    "ability",
    "correlated_traits": "ability, learning rate, activity and rollcall propensity are correlated",
    "dirt": "exact duplicate answers and ratings, one course re-issued under a new title",
    "aliases": "answers and ratings carry exam/evaluation-system ids (cadre_aliases)",
}


def resolve_realism(realism: bool | str | Iterable[str]) -> tuple[str, ...]:
    """The switches that are on, in :data:`REALISM_SWITCHES` order.

    Parameters
    ----------
    realism : bool, str or iterable of str
        ``True`` (every switch), ``False`` (none), ``"all"``, ``"none"``, a comma-separated string
        or an iterable of switch names.

    Returns
    -------
    tuple of str
        The names of the switches that are on.

    Raises
    ------
    ValueError
        Naming every unknown switch and the known ones.
    """
    if realism is True or realism == "all":
        return tuple(REALISM_SWITCHES)
    if realism is False or realism is None or realism == "none":
        return ()
    if isinstance(realism, str):
        realism = [s for s in realism.split(",") if s.strip()]
    names = {str(s).strip() for s in realism}
    unknown = sorted(names - set(REALISM_SWITCHES))
    if unknown:
        raise ValueError(
            f"unknown realism switch(es) {', '.join(unknown)}: use {', '.join(REALISM_SWITCHES)}"
        )
    return tuple(s for s in REALISM_SWITCHES if s in names)
