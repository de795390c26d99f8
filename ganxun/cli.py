"""The ``ganxun`` command line: generate, train, serve, promote, compare, keys, audit, demo."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("ganxun")

DEMO_DATA = Path("data/city")
DEMO_ARTIFACTS = Path("artifacts")
DONE_MARK = ".complete"
DEMO_KEY_FILE = "demo-key.txt"  # in the artifacts folder, mode 0600: `make demo` reuses the key

# The headline figures printed after training: (metric, its baseline or None, label, meaning).
# The full set stays in the MLflow run (`ganxun compare`) and the run's figures.
HEADLINE = (
    ("knowledge.auc", "knowledge.auc_baseline", "知识储备 AUC", "预测之后考试答对与否（0.5=瞎猜）"),
    ("knowledge.auc_share_of_oracle", None, "  占真值上限", "真实掌握度能达到的 AUC 的几成"),
    (
        "knowledge.spearman_evidence",
        "knowledge.spearman_evidence_baseline",
        "储备度排序相关",
        "有作答的专题上与真实掌握度的一致程度",
    ),
    (
        "recommend.model.ndcg@10",
        "recommend.peer_popularity.ndcg@10",
        "课程推荐 nDCG@10",
        "之后自选的课程排得多靠前（对照：同岗热门）",
    ),
    (
        "recommend.model.recall@10",
        "recommend.peer_popularity.recall@10",
        "课程推荐 Recall@10",
        "之后自选的课程有几成进了前 10",
    ),
    ("recommend.oracle.ndcg@10", None, "  真值上限 nDCG@10", "知道真实偏好时能达到的 nDCG@10"),
    ("recommend.model.repeats_in_top_k", None, "重复推荐已学课程", "应为 0"),
    (
        "quality.course.spearman",
        "quality.course.spearman_raw_mean",
        "课程质量排序相关",
        "与真实质量的一致程度（对照：原始平均分）",
    ),
    (
        "quality.teacher.spearman",
        "quality.teacher.spearman_raw_mean",
        "教师质量排序相关",
        "师资匹配的依据（对照：原始平均分）",
    ),
)
HEADLINE_PATTERNS = (  # figures some runs log under varying names: the first match is shown
    (
        r"^(plan|plans|matching)\..*share_of_oracle$",
        "师资安排占最优",
        "排课方案评分占最优方案的几成",
    ),
    (r"^rollcall\..*(benefit|share_of_oracle)", "调训名单收益", "名单预计收益（占最优的几成）"),
)


def _generate(scale: str, seed: int, out: Path, fmt: str, realism: str = "all") -> None:
    from tqdm.auto import tqdm

    from ganxun.simulation import generate
    from ganxun.training.sources import write_tables, write_truth

    t0 = time.perf_counter()
    bar = tqdm(desc=f"simulate {scale} city", unit="month")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    city = generate(scale, seed, progress=progress, realism=realism)
    bar.close()
    out.mkdir(parents=True, exist_ok=True)
    (out / DONE_MARK).unlink(missing_ok=True)
    write_tables(city.tables, out, fmt)
    write_truth(city.truth, out / "truth")
    switches = ",".join(city.truth["params"]["realism"]) or "none"
    (out / DONE_MARK).write_text(
        f"scale={scale} seed={seed} realism={switches}\n", encoding="utf-8"
    )
    rows = ", ".join(f"{n} {len(df):,}" for n, df in city.tables.items() if len(df) >= 1000)
    print(
        f"wrote the {scale} city (seed {seed}, realism {switches}) to {out} in "
        f"{time.perf_counter() - t0:.1f}s: {rows}"
    )


def cmd_generate(args: argparse.Namespace) -> int:
    """Generate a synthetic city with its hidden truth."""
    from ganxun.simulation.realism import resolve_realism

    try:
        resolve_realism(args.realism)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _generate(args.scale, args.seed, Path(args.out), args.format, args.realism)
    return 0


def _train(
    data: str,
    out: Path,
    config_path: str | None,
    overrides: list[str] = (),
    engine: str = "pandas",
    spark_master: str | None = None,
) -> Path:
    from ganxun.features.contracts import ContractError
    from ganxun.training.config import load_config
    from ganxun.training.pipeline import train
    from ganxun.training.registry import MODEL_NAME

    try:
        config = load_config(config_path, overrides)
    except (OSError, ValueError) as err:
        print(f"error: bad training configuration: {err}", file=sys.stderr)
        raise SystemExit(2) from err
    try:
        result = train(data, out, config, engine=engine, spark_master=spark_master)
    except ContractError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err
    print(f"bundle {result.bundle}")
    if result.run_id:
        print(
            f"MLflow run {result.run_id}; registered as {MODEL_NAME} version {result.model_version}"
        )
        print(f"  promote it with: ganxun promote {result.model_version} --artifacts {out}")
    if result.rows_set_aside:
        report = "problems.parquet" if engine == "spark" else "problems.csv"
        print(f"{result.rows_set_aside} rows set aside; report: {out / report}")
        for p in result.report.problems[:10]:
            print(f"  - {p}")
    print("\n".join(headline_table(result.metrics)))
    where = f"MLflow run {result.run_id}" if result.run_id else "the bundle's manifest.json"
    print(
        f"all {len(result.metrics)} metrics: {where} (`ganxun compare RUN_A RUN_B`), "
        f"figures in {out / 'figures' / result.bundle.name}"
    )
    return result.bundle


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide and full-width (CJK) characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def _figure(value) -> str:  # noqa: ANN001 - a metric value
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def headline_table(metrics: dict) -> list[str]:
    """The headline figures of a training run as aligned lines: figure, baseline, meaning.

    Rows whose metric the run did not log are left out (e.g. truth-based ones on real data).
    """
    import re

    rows = []
    for name, base, label, meaning in HEADLINE:
        if name in metrics:
            rows.append((label, _figure(metrics[name]), _figure(metrics.get(base)), meaning))
    for pattern, label, meaning in HEADLINE_PATTERNS:
        name = next((m for m in sorted(metrics) if re.search(pattern, m)), None)
        if name is not None:
            rows.append((label, _figure(metrics[name]), "—", meaning))
    header = ("指标", "模型", "对照", "含义")
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = []
    for r in [header, *rows]:
        cells = [_pad(r[0], widths[0])] + [
            " " * (widths[i] - display_width(r[i])) + r[i] for i in (1, 2)
        ]
        lines.append("  " + "  ".join(cells) + "  " + r[3])
    return lines


def cmd_train(args: argparse.Namespace) -> int:
    """Validate the raw tables, fit, evaluate, track and write a bundle."""
    _train(args.data, Path(args.out), args.config, args.set or [], args.engine, args.spark_master)
    return 0


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served on (in use, not allowed, unknown host), or None.

    Binds a socket the way uvicorn does (``SO_REUSEADDR``) and closes it at once.
    """
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, OverflowError) as err:
        return f"cannot serve on {host}:{port}: {err}"
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as err:
            return (
                f"port {port} on {host} is not free ({err.strerror}): another `ganxun serve` or "
                f"`make demo` may be using it. Stop it, or choose another port with --port, "
                f"e.g. --port {port + 1} (make demo PORT={port + 1})"
            )
    return None


def _check_port(host: str, port: int) -> bool:
    """Print the port problem to stderr and return False, or return True when it is free."""
    problem = port_problem(host, port)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
    return problem is None


def _app(artifacts: Path, model: str | None = None):
    from ganxun.serving.app import create_app
    from ganxun.serving.settings import Settings

    settings = (
        Settings(artifacts=artifacts)
        if model is None
        else Settings(artifacts=artifacts, model=model)
    )
    return create_app(settings)


def _run_server(app, host: str, port: int) -> None:  # noqa: ANN001 - a FastAPI app
    """Run ``app`` with uvicorn until Ctrl-C."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


def _serve(artifacts: Path, host: str, port: int, model: str | None = None, app=None) -> None:  # noqa: ANN001
    from ganxun.serving.observability import configure_logging

    configure_logging()
    app = app if app is not None else _app(artifacts, model)
    print(f"serving on http://{host}:{port} (API docs at http://{host}:{port}/docs)")
    _run_server(app, host, port)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the newest bundle under the artifacts folder, or a registered version (--model)."""
    if not _check_port(args.host, args.port):
        return 2
    if args.model:
        from ganxun.training.registry import RegistryError, resolve

        try:
            version = resolve(args.model, args.artifacts)
        except RegistryError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"{args.model} is version {version.version} (bundle {version.bundle_version})")
    _serve(Path(args.artifacts), args.host, args.port, args.model)
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    """Point the production alias (or --alias) at a registered model version."""
    from ganxun.training.registry import MODEL_NAME, RegistryError, promote

    try:
        previous = promote(args.artifacts, args.version, args.alias)
    except RegistryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{MODEL_NAME}@{args.alias}: version {previous or '(none)'} -> {args.version}")
    print("a service started with --model models:/ganxun@production serves it after a reload")
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    """List the registered model versions with their aliases, runs and bundles."""
    from ganxun.training.registry import list_versions

    versions = list_versions(args.artifacts)
    if not versions:
        print("no registered version yet; `ganxun train` registers one")
    for v in versions:
        aliases = ",".join(v.aliases) or "-"
        print(f"{v.version:>4}  {aliases:12s}  run {v.run_id}  bundle {v.bundle_version}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Print two runs' metrics side by side (run ids or models:/ URIs)."""
    import pandas as pd

    from ganxun.training.registry import RegistryError, compare

    try:
        table = compare(args.artifacts, args.run_a, args.run_b)
    except RegistryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.filter:
        table = table[table.index.str.contains(args.filter, regex=False)]
    print(f"a = {table.attrs['run_a']}\nb = {table.attrs['run_b']}")
    with pd.option_context("display.max_rows", None, "display.width", 120):
        print(table.round(4).to_string())
    return 0


def _engine(artifacts: str):
    import os

    from ganxun.training.database import default_url, make_engine

    return make_engine(os.environ.get("GANXUN_DATABASE_URL") or default_url(artifacts))


def cmd_keys(args: argparse.Namespace) -> int:
    """Add, list or revoke API keys (stored hashed in the service's SQL store)."""
    from ganxun.serving.auth import create_key, list_keys, revoke_key

    engine = _engine(args.artifacts)
    if args.action == "add":
        try:
            key = create_key(engine, args.role, args.scope, args.note)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        scope = f" for {args.scope}" if args.scope and args.role != "org" else ""
        print(f"new {args.role} key{scope} (shown once; store it safely):")
        print(key)
    elif args.action == "list":
        for k in list_keys(engine):
            state = f"revoked {k['revoked_at']:%Y-%m-%d}" if k["revoked_at"] else "active"
            print(
                f"{k['key_id']}  {k['role']:<11} {k['scope'] or '-':<10} {state}  {k['note'] or ''}"
            )
    else:
        if not revoke_key(engine, args.key_id):
            print(f"error: no active key {args.key_id!r}", file=sys.stderr)
            return 2
        print(f"revoked {args.key_id}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Show who read which cadre profiles, newest first."""
    from ganxun.serving.auth import read_audit

    for e in read_audit(_engine(args.artifacts), args.cadre, args.key, args.limit):
        ids = ",".join(e["ids"].get("cadre_ids") or []) or "-"
        print(
            f"{e['at']:%Y-%m-%d %H:%M:%S}  {e['key_id']}  {e['role']:<11} {e['action']:<16} "
            f"{e['status']}  {ids}  {e['request_id'] or ''}"
        )
    return 0


def cmd_external(args: argparse.Namespace) -> int:
    """Run an estimator on public data (CSV in, CSV out)."""
    import pandas as pd

    from ganxun.training import external

    read = {"dtype": str, "keep_default_na": False}
    try:
        if args.task == "diagnose":
            train = external.require_columns(
                pd.read_csv(args.train, **read), "TRAIN", ["user_id", "item_id", "correct"]
            )
            train, problems = external.clean_responses(train)
            for p in problems[:20]:
                print(f"skipped: {p}", file=sys.stderr)
            items = external.require_columns(
                pd.read_csv(args.items, **read), "ITEMS", ["item_id", "topic_id"]
            )
            pairs = external.require_columns(
                pd.read_csv(args.predict, **read), "PAIRS", ["user_id", "item_id"]
            )
            out = external.diagnose(train, items, pairs, args.model, args.seed)
        else:
            train = external.require_columns(
                pd.read_csv(args.train, **read), "TRAIN", ["user_id", "item_id"]
            )
            users = external.require_columns(pd.read_csv(args.users, **read), "USERS", ["user_id"])
            items = pd.read_csv(args.items, **read) if args.items else None
            out = external.recommend(
                train,
                users,
                args.k,
                args.seed,
                args.label_split,
                items=items,
                time_features=args.time_features,
                n_rankers=args.rankers,
            )
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out.to_csv(args.out, index=False)
    print(f"wrote {len(out):,} rows to {args.out}")
    return 0


def demo_key(artifacts: Path) -> tuple[str, bool]:
    """The demo's org key and whether it is new.

    The key in ``artifacts/demo-key.txt`` while it is valid, else a new one written there (mode
    0600), so a second ``make demo`` adds no key.
    """
    import os

    from ganxun.serving.auth import create_key, verify_key

    engine = _engine(str(artifacts))
    path = artifacts / DEMO_KEY_FILE
    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        who = verify_key(engine, key)
        if who is not None and who.role == "org":
            return key, False
    key = create_key(engine, "org", note="demo")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    os.chmod(path, 0o600)
    return key, True


def _demo_lines(key: str, key_is_new: bool, base: str, examples: dict, path: Path) -> list[str]:
    """What the demo prints before serving: the key, ids worth trying and curl lines with them."""
    cadre = examples["cadres"][0] if examples["cadres"] else None
    unit = examples["units"][0]["unit_id"] if examples["units"] else None
    klass = examples["classes"][0]["class_id"] if examples["classes"] else None
    state = "new" if key_is_new else "the same as last time"
    lines = ["", f"demo org key ({state}; kept in {path}, mode 0600):", f"  {key}", ""]
    if cadre is not None:
        lines.append(
            f"example cadre {cadre['cadre_id']} ({cadre['unit_name'] or cadre['unit_id']}, "
            f"{cadre['rank']}): exam answers on {cadre['topics_answered']} topics, largest gap "
            f"{cadre['largest_gap']} on {cadre['largest_gap_topic']}"
        )
    others = [c["cadre_id"] for c in examples["cadres"][1:]]
    if others:
        lines.append(f"more cadres to try: {', '.join(others)}")
    if unit:
        lines.append(
            f"example unit {unit}" + (f", example rollcall class {klass}" if klass else "")
        )
    lines += ["", "try:", f"  KEY={key}"]
    if cadre is not None:
        c = cadre["cadre_id"]
        lines.append(f'  curl -H "X-API-Key: $KEY" {base}/v1/cadres/{c}/knowledge')
        lines.append(
            f'  curl -H "X-API-Key: $KEY" -X POST {base}/v1/cadres/{c}/recommendations '
            "-H 'Content-Type: application/json' -d '{\"k\": 5}'"
        )
    if unit:
        lines.append(f'  curl -H "X-API-Key: $KEY" {base}/v1/units/{unit}/layout')
    pages = [f"{base}/ui/"]
    if cadre is not None:
        pages.append(f"{base}/ui/cadres/{cadre['cadre_id']}")
    if klass:
        pages.append(f"{base}/ui/classes/{klass}/roster")
    lines += ["", f"pages (paste the key in the box at the top): {'  '.join(pages)}", ""]
    return lines


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the demo city, train and serve; steps already done are reused."""
    from ganxun.training.bundle import BundleError, newest_bundle

    if not _check_port(args.host, args.port):  # before minutes of work, and before any key
        return 2
    data, artifacts = Path(args.data), Path(args.artifacts)
    if (data / DONE_MARK).exists():
        print(f"reusing the demo city in {data}")
    else:
        _generate(args.scale, args.seed, data, "parquet")
    bundle = newest_bundle(artifacts)
    if bundle is not None and bundle.stat().st_mtime > (data / DONE_MARK).stat().st_mtime:
        print(f"reusing bundle {bundle}")
    else:
        _train(str(data), artifacts, None)
    from ganxun.serving.auth import Principal
    from ganxun.serving.examples import examples_for

    app = _app(artifacts)
    try:  # loaded once, here: the examples come from it, and the server starts with it
        predictor = app.state.store.load_configured(app.state.settings)
    except BundleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    examples = examples_for(predictor, Principal("demo", "org", None))
    if not _check_port(args.host, args.port):  # taken meanwhile
        return 2
    key, new = demo_key(artifacts)
    base = f"http://{args.host}:{args.port}"
    print("\n".join(_demo_lines(key, new, base, examples, artifacts / DEMO_KEY_FILE)))
    _serve(artifacts, args.host, args.port, app=app)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    p = argparse.ArgumentParser(prog="ganxun", description="ganxun 干训: ML for cadre training.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help=cmd_generate.__doc__)
    g.add_argument("--scale", choices=["tiny", "city", "province"], default="tiny")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", required=True, help="folder for the raw tables (truth/ goes inside)")
    g.add_argument("--format", choices=["parquet", "csv", "xlsx"], default="parquet")
    g.add_argument(
        "--realism",
        default="all",
        metavar="all|none|NAME,NAME",
        help="the messiness of real records to add: all (default), none, or switch names "
        "(careers, mandatory, …: ganxun.simulation.REALISM_SWITCHES)",
    )
    g.set_defaults(func=cmd_generate)

    t = sub.add_parser("train", help=cmd_train.__doc__)
    t.add_argument("--data", required=True, help="folder of raw tables or a database URL")
    t.add_argument("--out", default="artifacts", help="artifacts folder (bundles, MLflow store)")
    t.add_argument("--config", help="TOML file with training hyper-parameters")
    t.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set knowledge.l2_theta=3 (repeatable)",
    )
    t.add_argument(
        "--engine",
        choices=["pandas", "spark"],
        default="pandas",
        help="where to train: this process (default) or Apache Spark (needs Java 17 and pyspark)",
    )
    t.add_argument(
        "--spark-master",
        help="Spark master URL for --engine spark (default local[*]; e.g. spark://host:7077)",
    )
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("serve", help=cmd_serve.__doc__)
    s.add_argument("--artifacts", default="artifacts", help="bundles, key store and MLflow store")
    s.add_argument("--model", help="serve a registered version, e.g. models:/ganxun@production")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_serve)

    pr = sub.add_parser("promote", help=cmd_promote.__doc__)
    pr.add_argument("version", help="the registered model version (see `ganxun versions`)")
    pr.add_argument("--alias", default="production")
    pr.add_argument("--artifacts", default="artifacts")
    pr.set_defaults(func=cmd_promote)

    v = sub.add_parser("versions", help=cmd_versions.__doc__)
    v.add_argument("--artifacts", default="artifacts")
    v.set_defaults(func=cmd_versions)

    c = sub.add_parser("compare", help=cmd_compare.__doc__)
    c.add_argument("run_a", help="MLflow run id, or models:/ganxun@production, models:/ganxun/3")
    c.add_argument("run_b")
    c.add_argument("--artifacts", default="artifacts")
    c.add_argument("--filter", help="only metrics whose name contains this text")
    c.set_defaults(func=cmd_compare)

    k = sub.add_parser("keys", help=cmd_keys.__doc__)
    k.add_argument("action", choices=["add", "list", "revoke"])
    k.add_argument("key_id", nargs="?", help="for revoke: the key id shown by list")
    k.add_argument("--artifacts", default="artifacts")
    k.add_argument("--role", choices=["org", "institution", "unit", "cadre"])
    k.add_argument("--scope", help="the institution, unit or cadre id the key may see")
    k.add_argument("--note", help="who holds the key")
    k.set_defaults(func=cmd_keys)

    a = sub.add_parser("audit", help=cmd_audit.__doc__)
    a.add_argument("--artifacts", default="artifacts")
    a.add_argument("--cadre", help="only reads of this cadre")
    a.add_argument("--key", help="only this key id")
    a.add_argument("--limit", type=int, default=50)
    a.set_defaults(func=cmd_audit)

    x = sub.add_parser("external", help=cmd_external.__doc__)
    xs = x.add_subparsers(dest="task", required=True)
    xd = xs.add_parser("diagnose", help="P(correct) for user × item pairs")
    xd.add_argument("--train", required=True, help="CSV: user_id,item_id,correct")
    xd.add_argument("--items", required=True, help="CSV: item_id,topic_id (one row per topic)")
    xd.add_argument("--predict", required=True, help="CSV: user_id,item_id")
    xd.add_argument("--out", required=True, help="CSV written: user_id,item_id,p_correct")
    xd.add_argument("--model", choices=["stacked", "logistic"], default="stacked")
    xd.add_argument("--seed", type=int, default=0)
    xd.set_defaults(func=cmd_external)
    xr = xs.add_parser("recommend", help="top-k items per user, seen items filtered")
    xr.add_argument("--train", required=True, help="CSV: user_id,item_id[,weight,timestamp]")
    xr.add_argument("--users", required=True, help="CSV: user_id")
    xr.add_argument("--k", type=int, default=10)
    xr.add_argument("--out", required=True, help="CSV written: user_id,item_id,rank")
    xr.add_argument("--seed", type=int, default=0)
    xr.add_argument(
        "--label-split",
        choices=["auto", "time", "random"],
        default="auto",
        help="the ranker learns each user's latest (time) or a random quarter of their items "
        "(random: for random held-out protocols); auto = time when TRAIN has timestamps",
    )
    xr.add_argument(
        "--items",
        help="optional CSV: item_id plus attribute columns (0/1 flags such as genres, numbers "
        "such as a release year) compared with each user's history by the ranker",
    )
    xr.add_argument(
        "--time-features",
        action="store_true",
        help="give the ranker when the user was active against when others engaged with each "
        "candidate (needs TRAIN timestamps: Unix seconds or dates)",
    )
    xr.add_argument(
        "--rankers",
        type=int,
        default=3,
        help="rankers trained on their own label splits and averaged (bagging; the fit takes "
        "this many times longer, 1 = fastest)",
    )
    xr.set_defaults(func=cmd_external)

    d = sub.add_parser("demo", help=cmd_demo.__doc__)
    d.add_argument("--data", default=str(DEMO_DATA))
    d.add_argument("--artifacts", default=str(DEMO_ARTIFACTS))
    d.add_argument("--scale", choices=["tiny", "city", "province"], default="city")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000)
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ganxun`` console command."""
    import os

    # implicit (ALS) and the diagnosis fit are slowed down by a threaded OpenBLAS; set it before
    # numpy is imported by any sub-command (every heavy import below is lazy).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "keys" and args.action == "add" and not args.role:
        parser.error("keys add needs --role")
    if args.command == "keys" and args.action == "revoke" and not args.key_id:
        parser.error("keys revoke needs the key id")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
