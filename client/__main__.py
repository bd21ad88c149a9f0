"""`python -m client`: search creators and read what you unlocked, from the terminal.

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
from client.render import count, history, percent, report, short_enum, table
from client.tokens import dev_token


def _progress(label: str, done: threading.Event) -> None:
    started = time.monotonic()
    frames = "|/-\\"
    i = 0
    while not done.wait(0.1):
        print(f"\r{frames[i % 4]} {label} {time.monotonic() - started:4.1f} s", end="", file=sys.stderr, flush=True)
        i += 1
    print("\r" + " " * (len(label) + 12) + "\r", end="", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, api: GatewayClient) -> Any:
    if args.command == "search":
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
    if args.command == "unlocked":
        return api.unlocked(args.page_size, args.page_token)
    if args.command == "posts":
        return api.posts(args.username, args.page_size, args.page_token)
    if args.command == "history":
        return api.history(args.username)
    if args.command == "queue":
        return api.queue_status()
    return api.health()


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
        return history(data.get("snapshots", []))
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


def _next(data: dict[str, Any]) -> str:
    token = data.get("next_page_token")
    return f"\nmore: --page-token {token}" if token else ""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="following", description=__doc__.splitlines()[0])
    p.add_argument("--gateway", default=os.environ.get("FOLLOWING_GATEWAY", "http://127.0.0.1:8080"))
    p.add_argument("--token", default=os.environ.get("FOLLOWING_TOKEN"), help="a Supabase access token")
    p.add_argument("--user", default="demo", help="development user to mint a token for (local stack only)")
    p.add_argument("--json", action="store_true", help="print the raw JSON answer")
    sub = p.add_subparsers(dest="command", required=True)
    search = sub.add_parser("search", help="search a creator (and unlock it)")
    search.add_argument("username")
    search.add_argument("--refresh", action="store_true", help="fetch from Instagram even if the report is fresh")
    search.add_argument("--posts", type=int, default=0, help="recent posts to fetch (1-50; default 12)")
    unlocked = sub.add_parser("unlocked", help="the creators you unlocked")
    posts = sub.add_parser("posts", help="a creator's stored posts")
    posts.add_argument("username")
    for paged in (unlocked, posts):
        paged.add_argument("--page-size", type=int, default=0)
        paged.add_argument("--page-token", default="")
    history = sub.add_parser("history", help="follower history of a creator")
    history.add_argument("username")
    sub.add_parser("queue", help="the image queue's status")
    sub.add_parser("health", help="the state of every service")
    return p


def main() -> None:
    args = parser().parse_args()
    token = args.token
    if not token and args.command != "health":
        try:
            token = dev_token(args.user, operator=args.command == "queue")
        except FileNotFoundError as exc:
            sys.exit(f"error: {exc}; or pass --token")
    api = GatewayClient(args.gateway, token, timeout=60)
    try:
        data = run(args, api)
    except ApiError as exc:
        sys.exit(f"error: {exc}")
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else show(args.command, data))


if __name__ == "__main__":
    main()
