"""A cadre's training dossier (培训电子档案), as JSON or an Excel workbook."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from ganxun.serving.deps import AuditDep, PredictorDep
from ganxun.serving.dossier import NoRecordsError, dossiers
from ganxun.serving.errors import ApiError
from ganxun.serving.excel import workbook, xlsx_response
from ganxun.serving.org_schemas import DossierResponse
from ganxun.serving.routes.cadres import authorize_cadre
from ganxun.serving.routes.compliance import ERRORS, XLSX_DOC

router = APIRouter(prefix="/v1/cadres", tags=["dossier"])
CadreId = Annotated[str, Path(min_length=1, max_length=64, examples=["C000001"])]
Format = Annotated[Literal["json", "xlsx"], Query(description="json, or xlsx for Excel")]


@router.get("/{cadre_id}/dossier", response_model=DossierResponse, responses={**ERRORS, **XLSX_DOC})
def dossier(cadre_id: CadreId, predictor: PredictorDep, audit: AuditDep, format: Format = "json"):
    """A cadre's training dossier: posts, classes and courses by year, exams, radar history."""
    authorize_cadre(cadre_id, predictor, audit, "dossier")
    try:
        body = dossiers(predictor).dossier(cadre_id)
    except NoRecordsError as err:
        raise ApiError(503, str(err), "missing_part") from err
    audit("dossier", {"cadre_ids": [cadre_id]})
    if format == "xlsx":
        return xlsx_response(dossier_xlsx(body, predictor.version), f"培训档案_{cadre_id}.xlsx")
    return DossierResponse(model_version=predictor.version, **body)


def dossier_xlsx(body: dict, version: str) -> bytes:
    """The dossier as a workbook: posts, courses by year, exams, year-end reserves, obligations."""
    caption = (
        f"干部 {body['cadre_id']} 培训电子档案 · {body['unit_name'] or body['unit_id']} · "
        f"{body['rank']} · 数据截至 {body['asof']} · 模型 {version}"
    )
    posts = [
        [
            p["unit_name"] or p["unit_id"],
            p["rank"],
            p["category"],
            p["from_on"],
            p["to_on"] or "至今",
        ]
        for p in body["posts"]
    ]
    courses = [
        [
            y["year"],
            c["course_id"],
            c["title"],
            c["mode"],
            c["source"],
            c["class_id"] or "",
            c["enrolled_on"],
            c["completed_on"] or "",
            "是" if c["completed"] else "否",
            c["hours"],
            "、".join(c["hour_kinds"]),
        ]
        for y in body["years"]
        for c in y["courses"]
    ]
    exams = [
        [y["year"], e["class_id"], e["class_name"], e["pre"], e["post"], e["gain"]]
        for y in body["years"]
        for e in y["exams"]
    ]
    topics = [t["name"] for t in body["required"]]
    reserve = [
        [y["year"], *[t["reserve"] for t in y["reserve"]]] for y in body["years"] if y["reserve"]
    ]
    reserve.append(["岗位要求", *[t["required"] for t in body["required"]]])
    rules = [
        [r["rule_name"], r["kind"], r["required"], r["hours"], r["due"], r["p_met"], r["status"]]
        for r in body["rules"]
    ]
    return workbook(
        [
            ("任职经历", ["单位", "职级", "岗位类别", "起", "止"], posts),
            (
                "参训记录",
                [
                    "年度",
                    "课程编号",
                    "课程",
                    "方式",
                    "来源",
                    "班次",
                    "报名",
                    "完成",
                    "是否完成",
                    "学时",
                    "学时类别",
                ],
                courses,
            ),
            ("考试成绩", ["年度", "班次编号", "班次", "训前", "训后", "提升"], exams),
            ("年末知识储备", ["年度", *topics], reserve),
            (
                "学时达标",
                ["培训要求", "学时类别", "应修", "已修", "尚缺", "达标概率", "状态"],
                rules,
            ),
        ],
        caption,
    )
