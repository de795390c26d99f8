"""Excel exports (台账) of the organisation department's views: one workbook per answer.

Org staff keep ledgers in Excel; each export opens with openpyxl (and Excel/WPS), with Chinese
column headers, one sheet per table, a frozen header row and the model version and cut-off in
the sheet's first lines.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(sheets: Sequence[tuple[str, list[str], list[list]]], caption: str) -> bytes:
    """An .xlsx file with one sheet per (title, headers, rows).

    Each sheet has ``caption`` on its first line, the headers on the third (:data:`HEADER_ROW`)
    and one row per record below.
    """
    wb = Workbook()
    wb.remove(wb.active)
    for title, headers, rows in sheets:
        ws = wb.create_sheet(title=title[:31])
        ws.append([caption])
        ws.append([])
        ws.append(headers)
        for cell in ws[3]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([_cell(v) for v in row])
        ws.freeze_panes = "A4"
        for j, header in enumerate(headers, start=1):
            width = max(
                [len(str(header)) * 2, *(len(str(r[j - 1])) for r in rows[:200])], default=8
            )
            ws.column_dimensions[ws.cell(3, j).column_letter].width = min(max(width + 2, 8), 60)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cell(value):
    if isinstance(value, list | tuple):
        return "；".join(map(str, value))
    if isinstance(value, date):
        return value.isoformat()
    return value


#: Where the data of a sheet starts (its header row): readers skip the caption lines.
HEADER_ROW = 3


def xlsx_response(data: bytes, filename: str) -> Response:
    """The workbook as a download named ``filename`` (UTF-8 name per RFC 6266)."""
    ascii_name = "".join(c if c.isascii() and c.isalnum() or c in "-_." else "_" for c in filename)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(data, media_type=XLSX, headers={"Content-Disposition": disposition})
