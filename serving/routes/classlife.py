"""A class from need to evaluation: needs analysis, one-call design, evaluation, equity."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse, HTMLResponse

from ganxun.models.class_design import DesignGoal, InfeasibleDesign, class_length
from ganxun.serving.class_design import topic_choices
from ganxun.serving.class_life import class_life
from ganxun.serving.class_schemas import (
    DesignRequest,
    DesignResponse,
    EvaluationResponse,
    NeedsRequest,
    NeedsResponse,
    PeriodEquityResponse,
)
from ganxun.serving.class_views import NoClassTable, NotEnded
from ganxun.serving.deps import AuditDep, PredictorDep, PrincipalDep
from ganxun.serving.errors import ApiError
from ganxun.serving.routes import ui
from ganxun.serving.routes.classes import ERRORS, PlannerDep, _candidate, authorize_class

router = APIRouter(prefix="/v1", tags=["class life"])
ClassId = Annotated[str, Path(min_length=1, max_length=64, examples=["B00040"])]
FIRST, LAST = date(1950, 1, 1), date(2200, 12, 31)  # dates a request may name


@router.get("/classes/{class_id}/needs", response_model=NeedsResponse, responses=ERRORS)
def class_needs(
    class_id: ClassId, planner: PlannerDep, predictor: PredictorDep, who: PrincipalDep
) -> NeedsResponse:
    """Needs analysis of a class's cohort (训前需求分析): reserve vs targets, weak topics, taken."""
    authorize_class(who, planner, class_id)
    cohorts = class_life(predictor).cohorts
    rows, source = cohorts.class_cohort(class_id)
    body = cohorts.report(rows, source)
    return NeedsResponse(model_version=predictor.version, class_id=class_id, **body)


@router.post("/needs", response_model=NeedsResponse, responses=ERRORS)
def needs(body: NeedsRequest, predictor: PredictorDep, audit: AuditDep) -> NeedsResponse:
    """Needs analysis of a draft roster (org keys) or of some units and ranks (org, institution)."""
    role = audit.who.role
    if role not in ("org", "institution") or (body.cadre_ids is not None and role != "org"):
        raise HTTPException(status_code=403, detail=f"{role} keys cannot analyse this cohort")
    cohorts = class_life(predictor).cohorts
    if body.cadre_ids is not None:
        rows, source = cohorts.of_cadres(body.cadre_ids), "cadres"
        audit("needs", {"cadre_ids": list(body.cadre_ids)})
    else:
        rows, source = cohorts.pool(body.unit_ids, body.ranks), "units_ranks"
    report = cohorts.report(rows, source, body.max_topics)
    return NeedsResponse(model_version=predictor.version, **report)


def _goal(body: DesignRequest) -> DesignGoal:
    if body.month is not None:
        first = pd.Timestamp(f"{body.month}-01")
        start = first + pd.Timedelta(days=(7 - first.weekday()) % 7)  # its first Monday
    else:
        start = pd.Timestamp(body.start_on)
    try:
        days, hours = class_length(body.days, body.hours)
    except InfeasibleDesign as err:
        raise ApiError(422, f"{err.constraint}: {err}", "infeasible") from err
    return DesignGoal(
        capacity=body.capacity,
        start_on=start,
        days=days,
        hours=hours,
        target_ranks=tuple(body.target_ranks),
        unit_ids=tuple(body.unit_ids),
        topics=body.topics,
        unit_quotas=body.unit_quotas,
        max_recent_hours=body.max_recent_hours,
        fairness_bound=body.fairness_bound,
        exclude_course_ids=tuple(body.exclude_course_ids),
        exclude_teacher_ids=tuple(body.exclude_teacher_ids),
        exclude_staff_ids=tuple(body.exclude_staff_ids),
        exclude_cadre_ids=tuple(body.exclude_cadre_ids),
    )


@router.post("/classes/design", response_model=DesignResponse, responses=ERRORS)
def design(body: DesignRequest, predictor: PredictorDep, audit: AuditDep) -> DesignResponse:
    """Design a whole class in one call: topics, sessions, teachers, staff and roster (org keys)."""
    if audit.who.role != "org":
        raise HTTPException(status_code=403, detail="designing a class needs an org key")
    goal = _goal(body)
    life = class_life(predictor)
    try:
        d = life.designer.design(goal, body.max_sessions_per_month, body.max_topics)
    except InfeasibleDesign as err:
        raise ApiError(422, f"{err.constraint}: {err}", "infeasible") from err
    audit("design", {"cadre_ids": d["roster"]["cadre_id"].tolist()})
    names = life.cohorts.topic_names
    sessions = [
        {
            **{k: s[k] for k in ("course_id", "title", "topic_id", "level", "mode", "reasons")},
            "topic_name": names.get(s["topic_id"], s["topic_id"]),
            "hours": float(s["hours"]),
            "session_on": pd.Timestamp(s["session_on"]).date(),
            "taken_share": round(float(s["taken_share"]), 4),
            "teacher_id": s["teacher_id"],
            "predicted_rating": s["predicted_rating"],
            "teacher_reasons": s["teacher_reasons"],
            "unfilled_reason": s["unfilled"],
        }
        for s in d["sessions"].to_dict("records")
    ]
    constraints = [
        {**c, "unit_name": predictor.unit_name(c["unit_id"])} if "unit_id" in c else c
        for c in d["constraints"]
    ]
    return DesignResponse(
        model_version=predictor.version,
        start_on=goal.start_on.date(),
        end_on=(goal.start_on + pd.Timedelta(days=goal.days - 1)).date(),
        days=goal.days,
        hours=goal.hours,
        complete=d["complete"],
        steps=d["steps"],
        topics=[{**t, "name": names.get(t["topic_id"], t["topic_id"])} for t in topic_choices(d)],
        sessions=sessions,
        staff=d["staff"],
        roster=[_candidate(r, predictor) for r in d["roster"].itertuples()],
        constraints=constraints,
        equity=life.views.roster_equity(d["roster"], d["candidates"]),
    )


@router.get("/classes/{class_id}/evaluation", response_model=EvaluationResponse, responses=ERRORS)
def evaluation(
    class_id: ClassId, planner: PlannerDep, predictor: PredictorDep, audit: AuditDep
) -> EvaluationResponse:
    """Post-training evaluation of an ended class (训后评价): gains, ratings, attendance, gaps."""
    authorize_class(audit.who, planner, class_id)
    try:
        body = class_life(predictor).views.evaluation(class_id)
    except NotEnded as err:
        raise ApiError(422, str(err), "not_ended") from err
    except NoClassTable as err:
        raise HTTPException(status_code=503, detail=str(err)) from err
    short = body["still_short"]
    audit("evaluation", {"class_id": class_id, "cadre_ids": [c["cadre_id"] for c in short]})
    for c in short:
        c["unit_name"] = predictor.unit_name(c["unit_id"])
    return EvaluationResponse(model_version=predictor.version, **body)


@router.get("/rollcall/equity", response_model=PeriodEquityResponse, responses=ERRORS)
def rollcall_equity(
    predictor: PredictorDep,
    who: PrincipalDep,
    start: Annotated[
        date,
        Query(description="first day of the period", examples=["2025-01-01"], ge=FIRST, le=LAST),
    ],
    end: Annotated[
        date, Query(description="day after the period", examples=["2026-01-01"], ge=FIRST, le=LAST)
    ],
) -> PeriodEquityResponse:
    """Seat share against need share per unit and district over a period, and concentration."""
    if who.role != "org":
        raise HTTPException(status_code=403, detail="rollcall equity needs an org key")
    body = class_life(predictor).views.period_equity(start, end)
    return PeriodEquityResponse(model_version=predictor.version, **body)


# --- pages (中文) ------------------------------------------------------------------------------

ui_router = APIRouter(prefix="/ui", include_in_schema=False)
CLASS_STATIC = {"classlife.js": "text/javascript"}


def _page(title: str, body: str, call: str = "", arg: str | None = None) -> HTMLResponse:
    script = ""
    if call:
        value = json.dumps(arg, ensure_ascii=False).replace("<", "\\u003c") if arg else ""
        script = f"<script>{call}({value});</script>"
    return ui._page(title, body, script)


@ui_router.get("/classes/{class_id}/needs", response_class=HTMLResponse)
def needs_page(class_id: str) -> HTMLResponse:
    """A class's needs analysis: the cohort's radar against the targets, weak-topic histograms."""
    return _page("训前需求分析", "needs.html", "showNeeds", class_id)


@ui_router.get("/classes/{class_id}/evaluation", response_class=HTMLResponse)
def evaluation_page(class_id: str) -> HTMLResponse:
    """A class's post-training evaluation with charts."""
    return _page("训后评价总结", "evaluation.html", "showEvaluation", class_id)


@ui_router.get("/design", response_class=HTMLResponse)
def design_page() -> HTMLResponse:
    """Design a class in one call; remove a course, teacher, staff member or cadre to redesign."""
    return _page("一键设计班次", "design.html", "showDesign")


@ui_router.get("/equity", response_class=HTMLResponse)
def equity_page() -> HTMLResponse:
    """Rollcall seats against need per unit and district over a period."""
    return _page("调训公平性", "equity.html", "showEquity")


@ui_router.get("/class-static/{name}")
def class_static(name: str) -> FileResponse:
    """The class-life pages' JavaScript."""
    if name not in CLASS_STATIC:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    return FileResponse(ui.UI / name, media_type=CLASS_STATIC[name])
