"""Who cadres are beyond their post: correlated traits and reserve cadres (后备干部).

Two realism switches shape the traits drawn in :meth:`PopulationMixin._cadres` before anything
uses them, from a stream of their own (``default_rng([seed, TRAITS_STREAM])``):

* ``correlated_traits`` reorders the drawn ability, learning rate, activity and rollcall
  propensity along a Gaussian copula (``params["correlated_traits"]["correlation"]``), so each
  keeps its distribution while able cadres also tend to learn faster, choose more courses and be
  called more;
* ``concentrated_rollcall`` marks about 10% of cadres as reserve cadres, chosen by ability and
  youth, and ties the rollcall propensity to that flag and to ability, so the 培训专业户 are the
  reserve and the able, not a random few.
"""

from __future__ import annotations

import numpy as np

from ganxun.simulation.params import TRAITS_STREAM


def copula_reorder(rng: np.random.Generator, columns: list[np.ndarray], corr) -> list[np.ndarray]:
    """Reorder each column so that the columns' ranks follow a Gaussian copula.

    Every column keeps exactly its values (its distribution); only which row holds which value
    changes, by the ranks of correlated normal draws.

    Parameters
    ----------
    rng : numpy.random.Generator
        The stream to draw the latent normals from.
    columns : list of ndarray of shape (n,)
        The traits, in the order of ``corr``.
    corr : array-like of shape (len(columns), len(columns))
        Latent correlation matrix (positive definite).

    Returns
    -------
    list of ndarray
        The reordered columns.
    """
    n = len(columns[0])
    z = rng.standard_normal((n, len(columns))) @ np.linalg.cholesky(np.asarray(corr)).T
    out = []
    for j, col in enumerate(columns):
        new = np.empty_like(col)
        new[np.argsort(z[:, j], kind="stable")] = np.sort(col, kind="stable")
        out.append(new)
    return out


class TraitsMixin:
    """Correlated traits and reserve cadres, applied to the freshly drawn cadres."""

    def _shape_traits(self, rank, age, ability, lr, activity, propensity):
        """Traits after the ``correlated_traits`` and ``concentrated_rollcall`` switches.

        ``propensity`` is the drawn rollcall propensity before the unit's favour. Sets
        ``self.reserve`` (all False unless ``concentrated_rollcall``).
        """
        self.reserve = np.zeros(len(ability), bool)
        if not {"correlated_traits", "concentrated_rollcall"} & set(self.realism):
            return ability, lr, activity, propensity
        rng = np.random.default_rng([self.seed, TRAITS_STREAM])
        if "correlated_traits" in self.realism:
            corr = self.p["correlated_traits"]["correlation"]
            ability, lr, activity, propensity = copula_reorder(
                rng, [ability, lr, activity, propensity], corr
            )
        if "concentrated_rollcall" in self.realism:
            q = self.p["concentrated_rollcall"]
            z_ability = ability / self.p["ability_sd"]
            score = q["reserve_ability"] * z_ability + q["reserve_age"] * (age - 40.0)
            score = score + q["reserve_rank"] * rank + rng.gumbel(size=len(ability))
            k = max(1, round(q["reserve_share"] * len(ability)))
            self.reserve[np.argpartition(-score, k - 1)[:k]] = True
            log_p = (
                q["shrink"] * np.log(propensity)
                + q["reserve_boost"] * self.reserve
                + q["ability_boost"] * z_ability
            )
            propensity = np.exp(log_p - np.median(log_p))
        return ability, lr, activity, propensity
