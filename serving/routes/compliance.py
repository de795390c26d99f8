"""Hour compliance (学时达标) and 任职培训: per cadre, a unit's ledger (台账), the city summary."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from ganxun.serving.compliance_views import ComplianceViews, NoComplianceError, compliance_views
from ganxun.serving.deps import AuditDep, PredictorDep
from ganxun.serving.errors import ApiError, not_in_scope
from ganxun.serving.excel import workbook, xlsx_response
from ganxun.serving.org_schemas import (
    CadreComplianceResponse,
    ComplianceSummaryResponse,
    UnitLedgerResponse,
)
from ganxun.serving.predictor import Predictor, UnknownIdError
from ganxun.serving.routes.cadres import authorize_cadre
from ganxun.serving.schemas import ErrorResponse

router = APIRouter(prefix="/v1", tags=["compliance"])
CadreId = Annotated[str, Path(min_length=1, max_length=64, examples=["C000001"])]
UnitId = Annotated[str, Path(min_length=1, max_length=64, examples=["U0001"])]
Format = Annotated[
    Literal["json", "xlsx"], Query(description="json, or xlsx for the Excel ledger (台账)")
]
ERRORS = {c: {"model": ErrorResponse} for c in (401, 403, 404, 422, 503)}
XLSX_DOC = {
    200: {
        "content": {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
        },
        "description": "the ledger as JSON, or as an Excel workbook with ?format=xlsx",
    }
}
LEDGER_HEADERS = [
    "干部编号",
    "职级",
    "岗位类别",
    "培训要求",
    "学时类别",
    "应修学时",
    "已修学时",
    "尚缺学时",
    "截止日期",
    "达标概率",
    "状态",
]


def views(predictor: Predictor) -> ComplianceViews:
    """The bundle's compliance views; 503 ``missing_part`` for a bundle trained without them."""
    try:
        return compliance_views(predictor)
    except NoComplianceError as err:
        raise ApiError(503, str(err), "missing_part") from err


@router.get(
    "/cadres/{cadre_id}/compliance", response_model=CadreComplianceResponse, responses=ERRORS
)
def cadre_compliance(
    cadre_id: CadreId, predictor: PredictorDep, audit: AuditDep
) -> CadreComplianceResponse:
    """A cadre's hour rules (so far, due, forecast, status, classes that would close the gap)."""
    authorize_cadre(cadre_id, predictor, audit, "compliance")
    body = views(predictor).cadre(cadre_id)
    audit("compliance", {"cadre_ids": [cadre_id]})
    return CadreComplianceResponse(model_version=predictor.version, **body)


def authorize_unit(unit_id: str, predictor: Predictor, audit) -> None:
    """Org keys read every unit's ledger, unit keys their own; others 403.

    A unit key gets the same 404 for another unit as for an unknown one.
    """
    who = audit.who
    if who.role not in ("org", "unit"):
        raise HTTPException(status_code=403, detail=f"{who.role} keys cannot read unit ledgers")
    known = predictor.fitted.catalog.units.one(unit_id) >= 0
    if who.role == "unit" and (who.scope != unit_id or not known):
        audit("ledger", {"unit_id": unit_id}, 404 if not known else 403)
        raise not_in_scope("unit", unit_id)
    if not known:
        raise UnknownIdError("unit", unit_id)


@router.get(
    "/units/{unit_id}/compliance",
    response_model=UnitLedgerResponse,
    responses={**ERRORS, **XLSX_DOC},
)
def unit_compliance(
    unit_id: UnitId, predictor: PredictorDep, audit: AuditDep, format: Format = "json"
):
    """A unit's ledger: who is on track, at risk or overdue, and 任职培训 due (?format=xlsx)."""
    authorize_unit(unit_id, predictor, audit)
    body = views(predictor).ledger(unit_id)
    audit(
        "ledger", {"unit_id": unit_id, "cadre_ids": sorted({r["cadre_id"] for r in body["rows"]})}
    )
    if format == "xlsx":
        return xlsx_response(ledger_xlsx(body, predictor.version), f"学时台账_{unit_id}.xlsx")
    return UnitLedgerResponse(model_version=predictor.version, **body)


def ledger_xlsx(body: dict, version: str) -> bytes:
    """The ledger as a workbook: the rows as in JSON, then the counts per status."""
    rows = [
        [
            r["cadre_id"],
            r["rank"],
            r["category"],
            r["obligation"],
            r["kind"],
            r["required"],
            r["hours"],
            r["due"],
            r["deadline"],
            r["p_met"],
            r["status"],
        ]
        for r in body["rows"]
    ]
    name = body["unit_name"] or body["unit_id"]
    caption = f"{name}（{body['unit_id']}）学时达标台账 · 数据截至 {body['asof']} · 模型 {version}"
    counts = [[k, v] for k, v in body["counts"].items()]
    return workbook(
        [("学时台账", LEDGER_HEADERS, rows), ("状态统计", ["状态", "条数"], counts)], caption
    )


@router.get("/compliance/summary", response_model=ComplianceSummaryResponse, responses=ERRORS)
def compliance_summary(predictor: PredictorDep, audit: AuditDep) -> ComplianceSummaryResponse:
    """The city's compliance by district and by unit level (org keys only)."""
    if audit.who.role != "org":
        raise HTTPException(status_code=403, detail="the compliance summary needs an org key")
    body = views(predictor).summary()
    return ComplianceSummaryResponse(model_version=predictor.version, **body)
