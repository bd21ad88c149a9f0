"""`following` (or `python -m client`): search creators, read your unlocks, run the image queue, from a terminal.

In development the client mints its own token from the local stack's secret (`--user` picks who you are); against a
real deployment pass a Supabase access token with `--token` or FOLLOWING_TOKEN.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

from client.api import ApiError, GatewayClient
from client.render import (
    cdn_stats,
    count,
    daily_gain,
    dead_jobs,
    discovered,
    growth,
    growth_window,
    history,
    percent,
    report,
    short_enum,
    similar,
    table,
)
from client.tokens import dev_token


def _progress(label: str, done: threading.Event) -> None:
    started = time.monotonic()
    frames = "|/-\\"
    i = 0
    while not done.wait(0.1):
        print(f"\r{frames[i % 4]} {label} {time.monotonic() - started:4.1f} s", end="", file=sys.stderr, flush=True)
        i += 1
    print("\r" + " " * (len(label) + 12) + "\r", end="", file=sys.stderr, flush=True)


def command_of(args: argparse.Namespace) -> str:
    """The command as `show` names it: `search`, ..., `queue`, `queue-dead`, `queue-retry`, `queue-discard`,
    `cdn-stats`."""
    if args.command == "queue":
        if args.action:
            return f"queue-{args.action}"
        return "queue-dead" if args.dead else "queue"
    if args.command == "cdn":
        return f"cdn-{args.action}"
    return str(args.command)


def run(args: argparse.Namespace, api: GatewayClient) -> Any:
    command = command_of(args)
    if command == "search":
        done = threading.Event()
        spinner = threading.Thread(target=_progress, args=(f"searching @{args.username}", done), daemon=True)
        if sys.stderr.isatty() and not args.json:
            spinner.start()
        try:
            return api.search(args.username, refresh=args.refresh, post_limit=args.posts)
        finally:
            done.set()
            if spinner.is_alive():
                spinner.join()
    if command == "unlocked":
        return api.unlocked(args.page_size, args.page_token)
    if command == "posts":
        return api.posts(args.username, args.page_size, args.page_token)
    if command == "history":
        return api.history(args.username)
    if command == "track":
        return api.track(args.username)
    if command == "untrack":
        return api.untrack(args.username)
    if command == "tracked":
        return api.tracked(args.page_size, args.page_token)
    if command == "similar":
        return api.similar(args.username, args.limit)
    if command == "discover":
        return api.discover(args.query, discover_filters(args))
    if command == "queue":
        return api.queue_status()
    if command == "queue-dead":
        return api.dead_jobs(args.page_size, args.page_token)
    if command == "queue-retry":
        return api.retry_dead_jobs(args.job_ids, every=args.all)
    if command == "queue-discard":
        return api.discard_dead_jobs(args.job_ids, every=args.all)
    if command == "cdn-stats":
        return {"metrics": api.cdn_metrics(), "statistics": api.cdn_statistics(args.days)}
    return api.health()


def discover_filters(args: argparse.Namespace) -> dict[str, Any]:
    """The Discover request's fields other than the query; int64 counts as decimal strings (proto3 JSON)."""
    return {
        "min_followers": None if args.min_followers is None else str(args.min_followers),
        "max_followers": None if args.max_followers is None else str(args.max_followers),
        "categories": args.category,
        "languages": args.language,
        "min_engagement_rate": args.min_er,
        "page_size": args.limit or None,
        "page_token": args.page_token,
    }


def show(command: str, data: Any) -> str:
    rows: list[tuple[Any, ...]]
    if command == "search":
        return report(data)
    if command == "unlocked":
        rows = [
            (
                c["username"],
                count(c.get("followers_count")),
                c.get("dominant_category") or "-",
                percent(c.get("mean_engagement_rate")),
                c.get("engagement_posts_considered", 0)
                if "mean_engagement_rate" in c
                else c.get("engagement_absent_reason", ""),
                c.get("unlocked_at", ""),
            )
            for c in data.get("creators", [])
        ]
        return table(("creator", "followers", "category", "ER", "ER posts", "unlocked"), rows) + _next(data)
    if command == "posts":
        rows = [
            (
                p["shortcode"],
                short_enum(p.get("type")),
                p.get("taken_at", ""),
                count(p.get("likes_count")),
                count(p.get("comments_count")),
                percent(p.get("engagement_rate")),
                p.get("caption") or "",
            )
            for p in data.get("posts", [])
        ]
        return table(("post", "type", "taken", "likes", "comments", "ER", "caption"), rows) + _next(data)
    if command == "history":
        return history(data.get("snapshots", [])) + "\n" + growth(data.get("growth", {}))
    if command == "track":
        tracked = data.get("creator", {})
        return f"tracking @{tracked.get('username')}: next refresh at {tracked.get('next_refresh_at', '-')}"
    if command == "untrack":
        return "stopped tracking" if data.get("was_tracked") else "was not tracked"
    if command == "tracked":
        rows = [
            (
                c["username"],
                count(c.get("followers_count")),
                c.get("last_refreshed_at", ""),
                c.get("next_refresh_at", "-"),
                *(growth_window(_window(c, days)) for days in (7, 30, 90)),
                daily_gain(c.get("growth", {})),
                c.get("last_refresh_error") or "",
            )
            for c in data.get("creators", [])
        ]
        headers = ("creator", "followers", "refreshed", "next refresh", "7 days", "30 days", "90 days", "average")
        return table((*headers, "refresh error"), rows) + _next(data)
    if command == "similar":
        return similar(data)
    if command == "discover":
        return discovered(data) + _next(data)
    if command == "queue-dead":
        return dead_jobs(data) + _next(data)
    if command == "queue-retry":
        return f"retried {int(data.get('retried', 0))} dead jobs: they are queued again with a fresh attempt budget"
    if command == "queue-discard":
        return f"discarded {int(data.get('discarded', 0))} dead jobs"
    if command == "cdn-stats":
        return cdn_stats(data)
    if command == "queue":
        rows = [
            (short_enum(c.get("state")), short_enum(c.get("priority")), c.get("count")) for c in data.get("counts", [])
        ]
        return table(("state", "priority", "jobs"), rows) + (
            f"\noldest queued: {float(data.get('oldest_queued_age_seconds', 0)):.1f} s;"
            f" running now: {data.get('active_workers', 0)};"
            f" claimed ahead, not started: {data.get('prefetched_jobs', 0)}"
        )
    rows = [
        (c["name"], short_enum(c.get("status")), f"{c.get('latency_ms', 0):.1f} ms", c.get("detail", ""))
        for c in data.get("components", [])
    ]
    return f"overall: {short_enum(data.get('status'))}\n" + table(("component", "status", "check", "detail"), rows)


def _window(creator: dict[str, Any], days: int) -> dict[str, Any]:
    windows = creator.get("growth", {}).get("windows", [])
    return next((w for w in windows if w.get("days") == days), {"days": days, "absent_reason": "history_too_short"})


def _next(data: dict[str, Any]) -> str:
    token = data.get("next_page_token")
    return f"\nmore: --page-token {token}" if token else ""


EXIT_CODES = """exit codes:
  0  done
  1  server error: the gateway or a service failed (HTTP 500, or an answer this client does not expect)
  2  usage: a bad command line, or the gateway refused the request as invalid (HTTP 400, 405, 413, 414)
  3  auth: no token could be made or the token was refused (HTTP 401, 403: e.g. no operator role)
  4  not found: no such creator, dead job or route (HTTP 404)
  5  unavailable: cannot reach the gateway, a service is down, rate limited or too slow (HTTP 429, 502-504);
     retrying later may succeed"""

OK, SERVER_ERROR, USAGE, AUTH, NOT_FOUND, UNAVAILABLE = 0, 1, 2, 3, 4, 5
# Commands whose routes need the operator role: the development token is minted with it.
OPERATOR_COMMANDS = ("queue", "cdn")


def exit_code(status: int) -> int:
    """The exit code for an HTTP status (0: no answer came back)."""
    if status == 0 or status in (429, 502, 503, 504):
        return UNAVAILABLE
    if status in (401, 403):
        return AUTH
    if status == 404:
        return NOT_FOUND
    if 400 <= status < 500:
        return USAGE
    return SERVER_ERROR


def _json_option(p: argparse.ArgumentParser, default: Any) -> None:
    # On every (sub)command, so `--json` works before or after it; subcommands leave the value alone unless given.
    p.add_argument("--json", action="store_true", default=default, help="print the raw JSON answer")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="following",
        description=__doc__.splitlines()[0],
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--gateway",
        default=os.environ.get("FOLLOWING_GATEWAY", "http://127.0.0.1:8080"),
        help="the gateway's URL (FOLLOWING_GATEWAY; default http://127.0.0.1:8080)",
    )
    p.add_argument("--token", default=os.environ.get("FOLLOWING_TOKEN"), help="a Supabase access token")
    p.add_argument("--user", default="demo", help="development user to mint a token for (local stack only)")
    _json_option(p, False)
    sub = p.add_subparsers(dest="command", required=True)
    search = sub.add_parser("search", help="search a creator (and unlock it)")
    search.add_argument("username")
    search.add_argument("--refresh", action="store_true", help="fetch from Instagram even if the report is fresh")
    search.add_argument("--posts", type=int, default=0, help="recent posts to fetch (1-50; default 12)")
    unlocked = sub.add_parser("unlocked", help="the creators you unlocked")
    posts = sub.add_parser("posts", help="a creator's stored posts")
    posts.add_argument("username")
    track = sub.add_parser("track", help="refresh a creator you searched on a schedule (its history grows)")
    track.add_argument("username")
    untrack = sub.add_parser("untrack", help="stop tracking a creator")
    untrack.add_argument("username")
    tracked = sub.add_parser("tracked", help="the creators you track, with their growth")
    for paged in (unlocked, posts, tracked):
        paged.add_argument("--page-size", type=int, default=0)
        paged.add_argument("--page-token", default="")
    lookalikes = sub.add_parser("similar", help="stored creators most like a creator (lookalikes)")
    lookalikes.add_argument("username")
    lookalikes.add_argument("--limit", type=int, default=0, help="creators to list (1-50; default 10)")
    discover = sub.add_parser(
        "discover",
        help="find stored creators by meaning, with exact filters",
        description='Ranks the stored creators by how close their captions are in meaning to QUERY ("home baking '
        'and sourdough"); a QUERY naming a stored creator ("@name") ranks its lookalikes. Filters are exact.',
    )
    discover.add_argument("query")
    discover.add_argument("--min-followers", type=int, default=None)
    discover.add_argument("--max-followers", type=int, default=None)
    discover.add_argument(
        "--category", action="append", default=[], help="keep creators with this topic (repeat for any of several)"
    )
    discover.add_argument(
        "--language", action="append", default=[], help="keep creators writing in this language (ISO 639-1; repeat)"
    )
    discover.add_argument("--min-er", type=float, default=None, help="minimum mean engagement rate, a fraction")
    discover.add_argument("--limit", type=int, default=0, help="creators per page (1-50; default 10)")
    discover.add_argument("--page-token", default="")
    history = sub.add_parser("history", help="follower history of a creator")
    history.add_argument("username")
    queue = sub.add_parser(
        "queue",
        help="the image queue: status, dead jobs, retry or discard them (operator role)",
        description="The image queue's status; --dead lists the dead jobs (failed for good) with their last error; "
        "`retry` queues dead jobs again with a fresh attempt budget; `discard` deletes them.",
    )
    queue.add_argument("--dead", action="store_true", help="list the dead jobs, newest failure first")
    queue.add_argument("--page-size", type=int, default=0, help="dead jobs per page (1-500; default 100)")
    queue.add_argument("--page-token", default="")
    actions = queue.add_subparsers(dest="action")
    for name, verb in (("retry", "queue again with a fresh attempt budget"), ("discard", "delete for good")):
        action = actions.add_parser(name, help=f"dead jobs to {verb}: job ids, or --all")
        action.add_argument("job_ids", nargs="*", metavar="JOB_ID", help="ids from `following queue --dead`")
        action.add_argument("--all", action="store_true", help="every dead job")
        _json_option(action, argparse.SUPPRESS)
    cdn = sub.add_parser("cdn", help="the image pipeline (operator role)")
    cdn_actions = cdn.add_subparsers(dest="action", required=True)
    stats = cdn_actions.add_parser("stats", help="live counters of the answering replica and per-day statistics")
    stats.add_argument("--days", type=int, default=0, help="days of statistics, counting today (1-90; default 7)")
    _json_option(stats, argparse.SUPPRESS)
    sub.add_parser("health", help="the state of every service")
    for command in (search, unlocked, posts, history, track, untrack, tracked, lookalikes, discover, queue, cdn):
        _json_option(command, argparse.SUPPRESS)
    _json_option(sub.choices["health"], argparse.SUPPRESS)
    return p


def usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with a command line argparse accepted (the usage error to print), or None."""
    if command_of(args) in ("queue-retry", "queue-discard") and bool(args.job_ids) == args.all:
        return f"queue {args.action}: give job ids or --all" + (", not both" if args.all else "")
    return None


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit code (see EXIT_CODES)."""
    p = parser()
    args = p.parse_args(argv)
    command = command_of(args)
    if (problem := usage_problem(args)) is not None:
        p.error(problem)
    token = args.token
    if not token and command != "health":
        try:
            token = dev_token(args.user, operator=args.command in OPERATOR_COMMANDS)
        except FileNotFoundError as exc:
            print(f"error: {exc}; or pass --token", file=sys.stderr)
            return AUTH
    api = GatewayClient(args.gateway, token, timeout=60)
    try:
        data = run(args, api)
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code(exc.status)
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else show(command, data))
    return OK


if __name__ == "__main__":
    sys.exit(main())
