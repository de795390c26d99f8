"""Class planning: teachers and staff for a class, teacher plans, rollcall rosters."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Path

from ganxun.models.rollcall import InfeasibleRoster
from ganxun.serving.auth import Principal
from ganxun.serving.class_life import class_life
from ganxun.serving.deps import AuditDep, PredictorDep, PrincipalDep
from ganxun.serving.errors import ApiError, not_in_scope
from ganxun.serving.planner import Planner
from ganxun.serving.predictor import UnknownIdError
from ganxun.serving.schemas import (
    Candidate,
    ClassStaffResponse,
    ClassTeachersResponse,
    ErrorResponse,
    RankRequest,
    RollcallRequest,
    RollcallResponse,
    TeacherPlanRequest,
    TeacherPlanResponse,
)

router = APIRouter(prefix="/v1", tags=["classes"])
ClassId = Annotated[str, Path(min_length=1, max_length=64, examples=["B00040"])]
ERRORS = {c: {"model": ErrorResponse} for c in (401, 403, 404, 422, 503)}


def get_planner(predictor: PredictorDep) -> Planner:
    """The bundle's planner (503 when the bundle was trained without planning models)."""
    planner = getattr(predictor, "planner", None)
    if planner is None:
        if predictor.fitted.planning is None:
            raise HTTPException(status_code=503, detail="this bundle has no planning models")
        planner = Planner(
            predictor.fitted.planning,
            predictor.fitted.catalog.topics.ids_,
            predictor.fitted.compliance,
        )
        predictor.planner = planner
    return planner


PlannerDep = Annotated[Planner, Depends(get_planner)]


def authorize_class(who: Principal, planner: Planner, class_id: str) -> None:
    """Org keys see every class; institution keys their own; unit and cadre keys none (403).

    An institution key gets the same 404 for another institution's class as for an unknown one.
    """
    if who.role not in ("org", "institution"):
        raise HTTPException(status_code=403, detail=f"{who.role} keys cannot read class plans")
    if who.role == "org":
        planner.institution_of(class_id)  # 404 for an unknown class
        return
    try:
        institution = planner.institution_of(class_id)
    except UnknownIdError:
        institution = None
    if institution is None or institution != who.scope:
        raise not_in_scope("class", class_id)


@router.post("/classes/{class_id}/teachers", response_model=ClassTeachersResponse, responses=ERRORS)
def class_teachers(
    class_id: ClassId,
    body: RankRequest,
    planner: PlannerDep,
    predictor: PredictorDep,
    who: PrincipalDep,
) -> ClassTeachersResponse:
    """Ranked teachers for each topic slot of a class, by predicted rating from its cohort."""
    authorize_class(who, planner, class_id)
    slots = planner.teachers(class_id, body.k)
    return ClassTeachersResponse(model_version=predictor.version, class_id=class_id, slots=slots)


@router.post("/classes/{class_id}/staff", response_model=ClassStaffResponse, responses=ERRORS)
def class_staff(
    class_id: ClassId,
    body: RankRequest,
    planner: PlannerDep,
    predictor: PredictorDep,
    who: PrincipalDep,
) -> ClassStaffResponse:
    """Ranked support staff (班主任/教辅) for a class."""
    authorize_class(who, planner, class_id)
    staff = planner.staff(class_id, body.k)
    return ClassStaffResponse(model_version=predictor.version, class_id=class_id, staff=staff)


@router.post("/plans/teachers", response_model=TeacherPlanResponse, responses=ERRORS)
def plan_teachers(
    body: TeacherPlanRequest, planner: PlannerDep, predictor: PredictorDep, who: PrincipalDep
) -> TeacherPlanResponse:
    """Assign teachers to every slot of several classes: best total rating within load limits."""
    for class_id in body.class_ids:
        authorize_class(who, planner, class_id)
    table, unfilled = planner.plan_teachers(body.class_ids, body.max_sessions_per_month)
    rows = []
    for r in table.itertuples():
        filled = isinstance(r.teacher_id, str)
        rows.append(
            {
                "class_id": r.class_id,
                "course_id": r.course_id,
                "topic_id": r.topic_id,
                "session_on": pd.Timestamp(r.session_on).date(),
                "teacher_id": r.teacher_id if filled else None,
                "predicted_rating": round(float(r.predicted_rating), 3) if filled else None,
                "reasons": list(r.reasons) if filled else [],
                "unfilled_reason": None if filled else r.unfilled_reason,
            }
        )
    rated = [r["predicted_rating"] for r in rows if r["predicted_rating"] is not None]
    return TeacherPlanResponse(
        model_version=predictor.version,
        slots=rows,
        unfilled=len(unfilled),
        mean_predicted_rating=round(float(np.mean(rated)), 3) if rated else None,
    )


def _candidate(row, predictor) -> Candidate:
    return Candidate(
        cadre_id=row.cadre_id,
        unit_id=row.unit_id,
        unit_name=predictor.unit_name(str(row.unit_id)),
        rank=row.rank,
        score=round(float(row.benefit), 4),
        gap=round(100 * float(row.gap), 1),
        recent_hours=round(float(row.recent_hours), 1),
        eligible=bool(row.eligible),
        reasons=list(row.reasons),
    )


@router.post("/rollcall", response_model=RollcallResponse, responses=ERRORS)
def rollcall(
    body: RollcallRequest, planner: PlannerDep, predictor: PredictorDep, audit: AuditDep
) -> RollcallResponse:
    """Rank candidates for a class and propose a roster that meets every constraint (调训)."""
    if audit.who.role != "org":
        raise HTTPException(status_code=403, detail="rollcall needs an org key")
    request = planner.request(
        body.class_id,
        body.topics,
        body.target_ranks,
        body.capacity,
        body.unit_quotas,
        body.max_recent_hours,
        body.exclude_cadre_ids,
        body.fairness_bound,
    )
    try:
        roster, report, candidates, pool = planner.rollcall_with_pool(request, body.k)
    except InfeasibleRoster as err:
        raise ApiError(422, f"{err.constraint}: {err}", "infeasible") from err
    audit("rollcall", {"class_id": body.class_id, "cadre_ids": roster["cadre_id"].tolist()})
    return RollcallResponse(
        model_version=predictor.version,
        class_id=body.class_id,
        roster=[_candidate(r, predictor) for r in roster.itertuples()],
        candidates=[_candidate(r, predictor) for r in candidates.itertuples()],
        constraints=[
            {**c, "unit_name": predictor.unit_name(c["unit_id"])} if "unit_id" in c else c
            for c in report
        ],
        equity=class_life(predictor).views.roster_equity(roster, pool),
    )
