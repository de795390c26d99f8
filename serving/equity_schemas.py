"""Response models of rollcall equity (调训公平), shared by the rollcall and design answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UnitSeats(BaseModel):
    """One unit's seats against its need."""

    unit_id: str | None
    name: str | None = None
    district: str | None = None
    seats: float
    seat_share: float
    need: float = Field(description="cadres in need (a roster) or need-proportional seats")
    need_share: float
    ratio: float | None = Field(description="seat share ÷ need share (1 = in proportion)")


class DistrictSeats(BaseModel):
    """One district's seats against its need."""

    district: str | None
    seats: float
    seat_share: float
    need: float
    need_share: float
    ratio: float | None


class EquityReport(BaseModel):
    """Seat shares against need shares per unit and district."""

    units: list[UnitSeats]
    districts: list[DistrictSeats]
    max_ratio: float | None = Field(description="the largest unit ratio")
