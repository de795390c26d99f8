"""API keys, roles and scopes; the audit log of profile reads.

A key is shown once when created and stored only as its SHA-256. Roles: ``org`` sees everything;
``institution`` its own classes, teachers and staff; ``unit`` its own cadres; ``cadre`` only itself.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from training.database import api_keys, audit_log

ROLES = ("org", "institution", "unit", "cadre")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, role and scope (an institution, unit or cadre id)."""

    key_id: str
    role: str
    scope: str | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(engine: Engine, role: str, scope: str | None = None, note: str | None = None) -> str:
    """Create a key and return it (the only time it is visible): ``gx_<key_id>_<secret>``."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {'/'.join(ROLES)}, got {role!r}")
    if role != "org" and not scope:
        raise ValueError(f"a {role} key needs --scope (the {role} id it may see)")
    key_id = secrets.token_hex(4)
    key = f"gx_{key_id}_{secrets.token_urlsafe(24)}"
    with engine.begin() as conn:
        conn.execute(
            api_keys.insert().values(
                key_id=key_id,
                key_hash=_hash(key),
                role=role,
                scope=scope if role != "org" else None,
                note=note,
                created_at=datetime.now(UTC),
            )
        )
    return key


def verify_key(engine: Engine, key: str | None) -> Principal | None:
    """The principal of a valid, unrevoked key; None otherwise."""
    if not key or len(key) > 200:
        return None
    q = sa.select(api_keys).where(
        api_keys.c.key_hash == _hash(key), api_keys.c.revoked_at.is_(None)
    )
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    return Principal(row["key_id"], row["role"], row["scope"]) if row else None


def list_keys(engine: Engine) -> list[dict]:
    """Every key's id, role, scope, note, creation and revocation time (never the key)."""
    q = sa.select(
        api_keys.c.key_id,
        api_keys.c.role,
        api_keys.c.scope,
        api_keys.c.note,
        api_keys.c.created_at,
        api_keys.c.revoked_at,
    ).order_by(api_keys.c.created_at)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def revoke_key(engine: Engine, key_id: str) -> bool:
    """Revoke a key by id; False when there is no such active key."""
    with engine.begin() as conn:
        res = conn.execute(
            api_keys.update()
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return res.rowcount == 1


def write_audit(
    engine: Engine, who: Principal, action: str, ids: dict, status: int, request_id: str | None
) -> None:
    """Record one read of protected data (who, what, when, which ids, outcome)."""
    with engine.begin() as conn:
        conn.execute(
            audit_log.insert().values(
                at=datetime.now(UTC),
                key_id=who.key_id,
                role=who.role,
                action=action,
                ids=ids,
                status=status,
                request_id=request_id,
            )
        )


def read_audit(
    engine: Engine, cadre_id: str | None = None, key_id: str | None = None, limit: int = 100
) -> list[dict]:
    """Audit entries, newest first, optionally for one cadre id or one key."""
    q = sa.select(audit_log).order_by(audit_log.c.id.desc())
    if key_id:
        q = q.where(audit_log.c.key_id == key_id)
    if not cadre_id:
        q = q.limit(limit)
    with engine.connect() as conn:
        rows = (dict(r) for r in conn.execute(q).mappings())
        if cadre_id:
            rows = (r for r in rows if cadre_id in (r["ids"].get("cadre_ids") or []))
        return [r for _, r in zip(range(limit), rows, strict=False)]


def may_see_cadre(who: Principal, cadre_id: str, unit_id: str | None) -> bool:
    """Whether ``who`` may read this cadre's profile (``unit_id`` is the cadre's unit)."""
    if who.role == "org":
        return True
    if who.role == "cadre":
        return who.scope == cadre_id
    if who.role == "unit":
        return unit_id is not None and who.scope == unit_id
    return False


def may_see_unit(who: Principal, unit_id: str) -> bool:
    """Org and institution keys see every unit's layout; unit keys their own; cadre keys none."""
    if who.role in ("org", "institution"):
        return True
    return who.role == "unit" and who.scope == unit_id
