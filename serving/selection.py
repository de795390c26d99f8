"""Selection reference (选拔任用参考): candidates against a post's requirement, with evidence.

A reference for the organisation department, never a decision: each candidate gets the fit of
their knowledge reserve to the post's requirement (:mod:`ganxun.models.post_fit`), an interval
from the reserve's uncertainty, per-topic shortfalls with the exam evidence behind each, their
training record in brief and their obligations. A candidate with little evidence is marked
证据不足 with a wide interval — ranked by their estimate like everyone else, not pushed down.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.catalog import segment_of
from ganxun.features.contracts import RANKS
from ganxun.features.records import NO_DAY, from_days
from ganxun.models.post_fit import (
    FULL_EVIDENCE,
    THIN_EVIDENCE,
    evidence_level,
    evidence_weight,
    fit_interval,
    ranking_score,
    requirement_fit,
)
from ganxun.serving.compliance_views import ComplianceViews
from ganxun.serving.predictor import BadRequestError, Predictor, UnknownIdError

MAX_CANDIDATES = 5000
NOTICE = (
    "本结果为选拔任用参考，依据培训与考试记录测算干部知识储备与岗位要求的匹配程度，"
    "不构成任用决定；任用须按干部选拔任用工作条例，综合考察德能勤绩廉。"
    "标注“证据不足”的干部考试作答较少，匹配度主要依据岗位、职级和参训学时推算，区间较宽，"
    "不宜据此排除，建议先安排测试。"
)
METHOD = (
    "匹配度 = 1 − Σ 各专题缺口 / Σ 岗位要求（缺口 = max(0, 要求 − 储备度)），"
    "按储备度估计值计算；排序时缺口取平滑值（各项均达标者按超出要求的幅度排序）。"
    "区间为储备度不确定性下匹配度的 10%–90% 分位（在 logit 尺度按标准误抽样 200 次）。"
    "区间同时计入各专题自身的不确定性和干部总体能力估计的不确定性。"
    "证据按岗位所需各专题的考试作答计：每个专题 3 道及以上为充分，按岗位要求加权；"
    f"≥{FULL_EVIDENCE} 为证据充分，{THIN_EVIDENCE}–{FULL_EVIDENCE} 为证据一般，"
    f"<{THIN_EVIDENCE} 为证据不足。"
)


class Selection:
    """Ranks candidates against a post for one predictor."""

    def __init__(self, predictor: Predictor, compliance: ComplianceViews | None):
        self.predictor = predictor
        self.compliance = compliance
        cat = predictor.fitted.catalog
        self.cat = cat
        self.topic_ids = cat.topics.ids_.astype(str)
        self.topic_names = cat.topic_info["name_zh"].astype(str).to_numpy()
        self.ranks = cat.cadre_info["rank"].to_numpy()
        self.in_service = cat.cadre_info["in_service"].to_numpy(bool)
        self.unit = cat.cadre_info["unit_id"].astype(str).to_numpy()

    # --- inputs -----------------------------------------------------------------------------------

    def targets(self, rank: str, category: str, topics: dict[str, float] | None):
        """The requirement (0–1 per topic) and where it came from."""
        if topics:
            t_idx = self.cat.topics.index(list(topics))
            bad = [t for t, i in zip(topics, t_idx, strict=True) if i < 0]
            if bad:
                raise BadRequestError(f"unknown topic id(s): {', '.join(bad)}")
            out = np.zeros(len(self.topic_ids))
            out[t_idx] = np.asarray(list(topics.values()), float) / 100.0
            return out, "request"
        seg = int(segment_of(rank, category)[0])
        out = np.asarray(self.cat.targets[max(seg, 0)], dtype=float)
        if seg < 0 or out.sum() <= 0:
            raise BadRequestError(f"no post requirement for {rank} × {category}: give topics")
        return out, "post_requirements"

    def eligible(
        self, post_rank: str, unit_ids: list[str] | None, ranks: list[str] | None
    ) -> np.ndarray:
        """In-service cadres of these units (all when None) and ranks.

        The ranks default to the post's rank and the rank below.
        """
        if not ranks:
            at = RANKS.index(post_rank)
            ranks = list(RANKS[max(at - 1, 0) : at + 1])
        mask = self.in_service & np.isin(self.ranks, ranks)
        if unit_ids:
            mask &= np.isin(self.unit, unit_ids)
        return np.flatnonzero(mask)

    def indices(self, cadre_ids: list[str]) -> np.ndarray:
        """Indices of listed candidates (UnknownIdError for an id the bundle lacks)."""
        idx = self.cat.cadres.index(list(dict.fromkeys(cadre_ids)))
        if (idx < 0).any():
            missing = [c for c, i in zip(dict.fromkeys(cadre_ids), idx, strict=True) if i < 0]
            raise UnknownIdError("cadre", missing[0])
        return idx

    # --- the answer -------------------------------------------------------------------------------

    def reserve(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Live reserve, confidence, topic and ability standard errors (logit) per candidate."""
        k = self.predictor.fitted.knowledge
        reserve = k.reserve[idx].astype(float)
        confidence = k.confidence[idx].astype(float)
        online = self.predictor.online
        for j, i in enumerate(idx.tolist()):
            if i in online.changed:
                r, c = online.reserve(i)
                reserve[j], confidence[j] = r, c
        return (reserve, confidence, *standard_errors(k.model, idx, confidence))

    def rank(self, idx: np.ndarray, targets: np.ndarray, k: int) -> list[dict]:
        """The top ``k`` candidates of ``idx`` by fit, with interval, shortfalls and evidence."""
        if len(idx) > MAX_CANDIDATES:
            raise BadRequestError(
                f"{len(idx)} candidates: at most {MAX_CANDIDATES}, narrow by units or ranks"
            )
        if len(idx) == 0:
            return []
        reserve, confidence, se, ability_se = self.reserve(idx)
        fit = requirement_fit(reserve, targets)
        low, high = fit_interval(reserve, se, targets, ability_se)
        low, high = np.minimum(low, fit), np.maximum(high, fit)
        answers = self.predictor.fitted.knowledge.total[idx]
        weight = evidence_weight(answers, targets)
        level = evidence_level(weight)
        score = ranking_score(reserve, targets)
        order = np.lexsort((self.cat.cadres.ids_[idx].astype(str), -np.round(score, 9)))[:k]
        need = np.flatnonzero(targets > 0)
        out = []
        for pos, j in enumerate(order.tolist(), start=1):
            i = int(idx[j])
            cadre_id = str(self.cat.cadres.ids_[i])
            short = np.maximum(0.0, targets - reserve[j])
            topics = sorted(need.tolist(), key=lambda t: (-short[t], t))
            n_answers = int(answers[j, need].sum())
            covered = int((answers[j, need] > 0).sum())
            record = self.record(i)
            thin = bool(weight[j] < THIN_EVIDENCE)
            evidence = (
                f"依据：岗位所需 {len(need)} 个专题中 {covered} 个有考试作答，共 {n_answers} 道；"
                f"累计参训 {record['hours_total']:.0f} 学时、{record['classes']} 个班次"
            )
            if thin:
                evidence += "。证据不足：储备度主要依据岗位、职级和参训学时推算，建议先安排测试"
            row = self.cat.cadre_info.iloc[i]
            out.append(
                {
                    "position": pos,
                    "cadre_id": cadre_id,
                    "unit_id": str(row["unit_id"]),
                    "unit_name": self.predictor.unit_name(str(row["unit_id"])),
                    "rank": str(row["rank"]),
                    "category": str(row["category"]),
                    "fit": round(100 * float(fit[j]), 1),
                    "score": round(float(score[j]), 4),
                    "fit_low": round(100 * float(low[j]), 1),
                    "fit_high": round(100 * float(high[j]), 1),
                    "thin_evidence": thin,
                    "evidence_level": str(level[j]),
                    "evidence": evidence,
                    "shortfalls": [
                        {
                            "topic_id": self.topic_ids[t],
                            "name": self.topic_names[t],
                            "required": round(100 * float(targets[t]), 1),
                            "reserve": round(100 * float(reserve[j, t]), 1),
                            "shortfall": round(100 * float(short[t]), 1),
                            "confidence": round(float(confidence[j, t]), 3),
                            "answers": int(answers[j, t]),
                        }
                        for t in topics
                    ],
                    "record": record,
                    "obligations": self.obligations(cadre_id, str(row["rank"])),
                }
            )
        return out

    def record(self, i: int) -> dict:
        """Training in brief: hours in all and in the last year, classes, last enrolment."""
        records = self.predictor.fitted.records
        if records is None:
            return {
                "hours_total": 0.0,
                "hours_last_year": 0.0,
                "classes": 0,
                "last_trained_on": None,
            }
        rows = records.enrollments.of(i)
        asof_day = (pd.Timestamp(self.predictor.fitted.asof) - pd.Timestamp("1970-01-01")).days
        recent = rows["enrolled_on"] >= asof_day - 365
        last = rows["enrolled_on"].max() if len(rows["enrolled_on"]) else NO_DAY
        klass = rows["klass"]
        return {
            "hours_total": round(float(rows["hours"].sum()), 1),
            "hours_last_year": round(float(rows["hours"][recent].sum()), 1),
            "classes": int(len(np.unique(klass[klass >= 0]))),
            "last_trained_on": None if last == NO_DAY else from_days(np.array([last]))[0].date(),
        }

    def obligations(self, cadre_id: str, rank: str) -> list[str]:
        """Hour rules and 任职培训 in words."""
        comp = self.compliance
        if comp is None:
            return []
        out = []
        for r in comp.rules(cadre_id, rank, classes=False):
            text = f"{r['rule_name']}：{r['status']}"
            if r["due"] > 0:
                text += f"（尚缺 {r['due']:.0f} 学时）"
            out.append(text)
        for a in comp.appointments(cadre_id):
            if a["status"] != "已完成":
                out.append(
                    f"任职培训（{a['to_rank']}）{a['status']}：尚缺 {a['remaining']:.0f} 学时，"
                    f"截止 {a['due_on']}"
                )
        return out


def standard_errors(model, idx: np.ndarray, confidence: np.ndarray):
    """Per candidate: the topic cells' logit standard errors and the general ability's.

    From the diagnosis model's Fisher information: a topic cell's precision is its answers'
    information plus ``l2_theta``; the ability's, all the cadre's answers plus ``l2_user``. A
    model without Fisher information gets the prior's spread, shrunk by confidence.
    """
    fisher = getattr(model, "fisher_", None)
    if fisher is None or not hasattr(model, "theta_se"):
        return np.sqrt(np.maximum(1.0 - confidence, 0.05)), np.full(len(idx), 0.5)
    topic = np.asarray(model.theta_se(idx), dtype=float)
    ability = 1.0 / np.sqrt(fisher[idx].sum(axis=1) + float(getattr(model, "l2_user", 1.0)))
    return topic, ability


def selection(predictor: Predictor) -> Selection:
    """The predictor's :class:`Selection` (built on first use, then kept with it)."""
    view = getattr(predictor, "_selection", None)
    if view is None:
        from ganxun.serving.compliance_views import NoComplianceError, compliance_views

        try:
            comp = compliance_views(predictor)
        except NoComplianceError:
            comp = None
        view = Selection(predictor, comp)
        predictor._selection = view
    return view
