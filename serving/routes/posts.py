"""Selection reference (选拔任用参考): candidates ranked against a post's requirement."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query

from ganxun.serving.deps import AuditDep, PredictorDep
from ganxun.serving.errors import not_in_scope
from ganxun.serving.excel import workbook, xlsx_response
from ganxun.serving.org_schemas import PostFitRequest, PostFitResponse
from ganxun.serving.predictor import UnknownIdError
from ganxun.serving.routes.compliance import ERRORS, XLSX_DOC
from ganxun.serving.selection import METHOD, NOTICE, selection

router = APIRouter(prefix="/v1/posts", tags=["selection"])
Format = Annotated[Literal["json", "xlsx"], Query(description="json, or xlsx for Excel")]


@router.post("/fit", response_model=PostFitResponse, responses={**ERRORS, **XLSX_DOC})
def post_fit(
    body: PostFitRequest, predictor: PredictorDep, audit: AuditDep, format: Format = "json"
):
    """Rank candidates by how well their knowledge reserve meets a post (a reference only).

    Org keys may name any cadres or units; a unit key only its own unit and cadres (the same 404
    for another unit's cadre as for an unknown one); institution and cadre keys get 403.
    """
    who = audit.who
    if who.role not in ("org", "unit"):
        raise HTTPException(status_code=403, detail=f"{who.role} keys cannot rank candidates")
    view = selection(predictor)
    post = body.post
    targets, source = view.targets(post.rank, post.category, post.topics)
    if body.cadre_ids:
        for cadre_id in body.cadre_ids:
            unit = predictor.unit_of(cadre_id)
            if who.role == "unit" and unit != who.scope:
                audit("post_fit", {"cadre_ids": [cadre_id]}, 404 if unit is None else 403)
                raise not_in_scope("cadre", cadre_id)
        idx = view.indices(body.cadre_ids)
    else:
        units = body.unit_ids
        if who.role == "unit":
            if units and any(u != who.scope for u in units):
                bad = next(u for u in units if u != who.scope)
                raise not_in_scope("unit", bad)
            units = [who.scope]
        elif units:
            unknown = [u for u in units if predictor.fitted.catalog.units.one(u) < 0]
            if unknown:
                raise UnknownIdError("unit", unknown[0])
        idx = view.eligible(post.rank, units, body.ranks)
    candidates = view.rank(np.asarray(idx, dtype=np.int64), targets, body.k)
    audit("post_fit", {"cadre_ids": [c["cadre_id"] for c in candidates], "n": len(idx)})
    required = [
        {
            "topic_id": view.topic_ids[t],
            "name": view.topic_names[t],
            "required": round(100 * float(targets[t]), 1),
        }
        for t in np.flatnonzero(targets > 0)
    ]
    answer = {
        "model_version": predictor.version,
        "post": post,
        "requirement_source": source,
        "required": required,
        "n_candidates": int(len(idx)),
        "thin_evidence": int(sum(c["thin_evidence"] for c in candidates)),
        "candidates": candidates,
        "notice": NOTICE,
        "method": METHOD,
    }
    if format == "xlsx":
        return xlsx_response(fit_xlsx(answer), f"选拔任用参考_{post.rank}_{post.category}.xlsx")
    return PostFitResponse(**answer)


def fit_xlsx(answer: dict) -> bytes:
    """The ranking as a workbook (the notice on the first line)."""
    post = answer["post"]
    caption = (
        f"选拔任用参考（{post.rank}·{post.category}）· 模型 {answer['model_version']} · "
        f"{answer['notice']}"
    )
    rows = [
        [
            c["position"],
            c["cadre_id"],
            c["unit_name"] or c["unit_id"],
            c["rank"],
            c["fit"],
            c["fit_low"],
            c["fit_high"],
            c["evidence_level"],
            "、".join(
                f"{s['name']} {s['shortfall']:.0f}" for s in c["shortfalls"] if s["shortfall"] > 0
            ),
            c["record"]["hours_total"],
            "；".join(c["obligations"]),
            c["evidence"],
        ]
        for c in answer["candidates"]
    ]
    headers = [
        "名次",
        "干部编号",
        "单位",
        "职级",
        "匹配度",
        "区间下限",
        "区间上限",
        "证据",
        "主要短板",
        "累计学时",
        "学时达标",
        "依据",
    ]
    return workbook([("选拔任用参考", headers, rows)], caption)
