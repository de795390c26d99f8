"""API keys, roles and scopes; the audit log of profile reads.

A key is shown once when created and stored only as its SHA-256. Roles: ``org`` sees everything;
``institution`` its own classes, teachers and staff; ``unit`` its own cadres; ``cadre`` only itself.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import queue
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ganxun.training.database import api_keys, audit_log

log = logging.getLogger(__name__)

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


# Valid keys are remembered for KEY_CACHE_SECONDS per store, so a request does not query the
# store for its key. A key revoked by revoke_key in this process stops working at once; one revoked
# from another process (``ganxun keys revoke`` beside a running server) within KEY_CACHE_SECONDS.
KEY_CACHE_SECONDS = 5.0
_key_cache: dict[str, dict[str, tuple[float, Principal]]] = {}


@functools.lru_cache(maxsize=64)
def _store_id(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def cached_key(engine: Engine, key: str | None) -> Principal | None:
    """The principal of a key verified less than KEY_CACHE_SECONDS ago (no I/O); None otherwise."""
    if not key or len(key) > 200:
        return None
    hit = _key_cache.get(_store_id(engine), {}).get(_hash(key))
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def verify_key(engine: Engine, key: str | None) -> Principal | None:
    """The principal of a valid, unrevoked key; None otherwise."""
    if not key or len(key) > 200:
        return None
    digest = _hash(key)
    cache = _key_cache.setdefault(_store_id(engine), {})
    now = time.monotonic()
    hit = cache.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]
    q = sa.select(api_keys).where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None))
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    if row is None:
        cache.pop(digest, None)
        return None
    who = Principal(row["key_id"], row["role"], row["scope"])
    if len(cache) > 10_000:
        cache.clear()
    cache[digest] = (now + KEY_CACHE_SECONDS, who)
    return who


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
    _key_cache.pop(_store_id(engine), None)
    return res.rowcount == 1


class AuditWriter:
    """Writes the audit rows of one store from a thread of its own, in shared transactions.

    A caller hands its row over and is told once a transaction holding it has committed
    (:func:`write_audit` blocks, :func:`write_audit_async` awaits), so a row is durable before the
    request that caused it is answered. Rows that arrive while a commit runs go together in the
    next one: under load one commit (one fsync) serves many requests, no request thread waits in
    SQLite's busy handler, and an ``async`` route needs no thread-pool hop to audit. The thread
    keeps one connection and stops after ``idle`` seconds without rows (restarted on demand).
    """

    def __init__(self, engine: Engine, idle: float = 5.0):
        self._engine = weakref.ref(engine)
        self._idle = idle
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    def submit(self, row: dict, done: Callable[[BaseException | None], None]) -> None:
        """Queue ``row``; ``done(error)`` is called from the writer thread after the commit."""
        with self._lock:
            self._queue.put((row, done))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="audit-writer", daemon=True).start()

    def _run(self) -> None:
        conn, idle = None, False
        try:
            while True:
                try:
                    batch = [self._queue.get(timeout=self._idle)]
                except queue.Empty:
                    with self._lock:
                        if self._queue.empty():
                            self._running = False
                            idle = True
                            return
                    continue
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                error: BaseException | None = None
                try:
                    if conn is None:
                        engine = self._engine()
                        if engine is None:
                            raise RuntimeError("the audit store's engine is gone")
                        conn = engine.connect()
                    with conn.begin():
                        conn.execute(audit_log.insert(), [row for row, _ in batch])
                except Exception as err:  # handed to every caller of the batch
                    error = err
                    if conn is not None:
                        conn.close()
                        conn = None
                for _, done in batch:
                    try:
                        done(error)
                    except Exception:  # e.g. the caller's event loop is closed
                        log.exception("could not report an audit commit")
        finally:
            if conn is not None:
                conn.close()
            if not idle:  # failed: let the next row start a new writer
                with self._lock:
                    self._running = False


_writers: weakref.WeakKeyDictionary[Engine, AuditWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer(engine: Engine) -> AuditWriter:
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None:
            writer = _writers[engine] = AuditWriter(engine)
        return writer


def _audit_row(who: Principal, action: str, ids: dict, status: int, request_id: str | None):
    return {
        "at": datetime.now(UTC),
        "key_id": who.key_id,
        "role": who.role,
        "action": action,
        "ids": ids,
        "status": status,
        "request_id": request_id,
    }


def write_audit(
    engine: Engine, who: Principal, action: str, ids: dict, status: int, request_id: str | None
) -> None:
    """Record one read of protected data (who, what, when, which ids, outcome).

    Returns once the row is committed (rows of concurrent calls share commits, see
    :class:`AuditWriter`).
    """
    committed = threading.Event()
    outcome: list[BaseException | None] = []

    def done(error: BaseException | None) -> None:
        outcome.append(error)
        committed.set()

    _writer(engine).submit(_audit_row(who, action, ids, status, request_id), done)
    committed.wait()
    if outcome[0] is not None:
        raise outcome[0]


async def write_audit_async(
    engine: Engine, who: Principal, action: str, ids: dict, status: int, request_id: str | None
) -> None:
    """:func:`write_audit` for ``async`` code: awaits the commit without blocking the loop."""
    loop = asyncio.get_running_loop()
    committed = loop.create_future()

    def resolve(error: BaseException | None) -> None:
        if committed.done():  # the request was cancelled meanwhile
            return
        if error is None:
            committed.set_result(None)
        else:
            committed.set_exception(error)

    def done(error: BaseException | None) -> None:
        loop.call_soon_threadsafe(resolve, error)

    _writer(engine).submit(_audit_row(who, action, ids, status, request_id), done)
    await committed


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
