"""`make chaos`: PostgreSQL outages under load against a private stack, and a table of what survived them.

A private stack (scripts/stack.py: PostgreSQL, the sample upstream, cdn, creator, gateway; inference is left out and the
creator's own image mirroring parked, which the product tolerates) gets a stream of cached searches through the gateway
and, round after round, a batch of CDN jobs (slow downloads, so some are running when the database goes). Each round
then takes the database away for a few seconds, either by stopping the cluster (`pg_ctl stop`, fast or immediate) or
by `pg_terminate_backend` of every connection while the database refuses new ones (`CONNECTION LIMIT 0`). Right after
each return one more job is written straight into the queue (no wake-up call), and the time until a worker claims it
is the claim resume time.

What must hold (checked, and the exit status says whether it did): every job ends DONE exactly once (none lost, none
stuck, none completed twice, no object stored that no rendition names); claims resume within 5 s of each return;
searches during an outage fail within 100 ms with 503 and Retry-After, and succeed again within 2 s of the return;
`/api/health` answers 503 during an outage; no 5xx other than 503; no process restarted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import asyncpg
import grpc
from cdn.v1 import cdn_pb2, cdn_pb2_grpc

from client.tokens import mint
from fakes.instagram.creators import CREATORS
from scripts.pgcluster import free_port
from scripts.stack import Stack, private_stack

SERVICES = ("sample-upstream", "cdn", "creator", "gateway")
SEARCHED = ("fit.bayann", "green.kai", "techwithtariq", "ines.paints")
RESUME_LIMIT_S = 5.0
RECOVERY_LIMIT_S = 2.0
FAIL_FAST_LIMIT_S = 0.1
OWNER = "chaos"


@dataclass(frozen=True)
class Plan:
    outages: int = 10
    jobs: int = 200
    min_outage_s: float = 3.0
    max_outage_s: float = 10.0
    terminations: int = 2
    seed: int = 13
    #: Seconds between a round's enqueue and the outage, so jobs are mid-flight when it starts.
    lead_s: float = 1.0
    settle_s: float = 60.0

    def kinds(self) -> list[str]:
        """Which rounds terminate connections (spread out); the others stop the cluster, fast and immediate in turn."""
        terminating = {round(i * self.outages / max(self.terminations, 1)) + 1 for i in range(self.terminations)}
        return [
            "terminate" if i in terminating else ("stop-fast" if i % 2 == 0 else "stop-immediate")
            for i in range(self.outages)
        ]


@dataclass
class Search:
    started: float
    ended: float
    status: int
    retry_after: str | None

    @property
    def latency(self) -> float:
        return self.ended - self.started


@dataclass
class Outage:
    index: int
    kind: str
    seconds: float
    down_from: float = 0.0
    down_to: float = 0.0
    up_at: float = 0.0
    claim_resume_s: float | None = None
    search_recovery_s: float | None = None
    health_status: int = 0
    searches_down: int = 0
    slowest_503_ms: float = 0.0


@dataclass
class Report:
    plan: Plan
    outages: list[Outage] = field(default_factory=list)
    enqueued: int = 0
    done_once: int = 0
    lost: int = 0
    stuck: int = 0
    dead: int = 0
    done_twice: int = 0
    orphan_objects: int = 0
    errors_5xx: Counter[str] = field(default_factory=Counter)
    slow_503: int = 0
    #: (outage number, seconds into it, milliseconds) of each 503 slower than the limit.
    slow_503_at: list[tuple[int, float, float]] = field(default_factory=list)
    missing_retry_after: int = 0
    restarted: list[str] = field(default_factory=list)
    searches: int = 0
    #: Why jobs did not end DONE: "state: last error" of each, counted.
    unfinished: Counter[str] = field(default_factory=Counter)

    def problems(self, allowed_slow_503: int = 0) -> list[str]:
        """Every check that failed; `allowed_slow_503` tolerates that many 503s over the fail-fast limit (a test on
        a shared, overloaded machine)."""
        found = []
        if self.lost or self.stuck or self.dead or self.done_twice or self.orphan_objects:
            found.append(
                f"jobs: {self.lost} lost, {self.stuck} stuck, {self.dead} dead, {self.done_twice} done twice, "
                f"{self.orphan_objects} orphan objects; unfinished: {dict(self.unfinished)}"
            )
        if self.done_once != self.enqueued:
            found.append(f"only {self.done_once} of {self.enqueued} jobs DONE exactly once")
        for outage in self.outages:
            if outage.claim_resume_s is None or outage.claim_resume_s > RESUME_LIMIT_S:
                found.append(f"outage {outage.index + 1}: claims resumed after {outage.claim_resume_s} s")
            if outage.search_recovery_s is None or outage.search_recovery_s > RECOVERY_LIMIT_S:
                found.append(f"outage {outage.index + 1}: searches recovered after {outage.search_recovery_s} s")
            if outage.health_status != 503:
                found.append(f"outage {outage.index + 1}: /api/health answered {outage.health_status}")
        if self.slow_503 > allowed_slow_503 or self.missing_retry_after:
            slow = ", ".join(f"outage {n} +{at:.2f} s: {ms:.0f} ms" for n, at, ms in self.slow_503_at)
            found.append(
                f"{self.slow_503} slow 503s ({slow}), {self.missing_retry_after} without Retry-After during outages"
            )
        unexpected = {kind: n for kind, n in self.errors_5xx.items() if not kind.startswith("503")}
        if unexpected:
            found.append(f"unexpected errors: {unexpected}")
        if self.restarted:
            found.append(f"processes restarted: {self.restarted}")
        return found

    def table(self) -> str:
        def seconds(value: float | None) -> str:
            return "never" if value is None else f"{value:.2f} s"

        resume = [o.claim_resume_s for o in self.outages]
        recovery = [o.search_recovery_s for o in self.outages]
        kinds = Counter(o.kind.split("-")[0] for o in self.outages)
        errors = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.errors_5xx.items())) or "none"
        lines = [
            "| outages | jobs | DONE exactly once | lost | stuck | done twice | orphan objects |"
            " worst claim resume | worst search recovery | slowest 503 | 5xx by kind | restarts |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {len(self.outages)} ({kinds['stop']} stop, {kinds['terminate']} terminate) | {self.enqueued}"
            f" | {self.done_once} | {self.lost} | {self.stuck} | {self.done_twice} | {self.orphan_objects}"
            f" | {seconds(None if None in resume else max(r or 0.0 for r in resume))}"
            f" | {seconds(None if None in recovery else max(r or 0.0 for r in recovery))}"
            f" | {max((o.slowest_503_ms for o in self.outages), default=0):.0f} ms | {errors}"
            f" | {len(self.restarted)} |",
            "",
            "| # | kind | down for | searches during (all 503) | slowest 503 | /api/health | claims resumed"
            " | searches back |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for o in self.outages:
            lines.append(
                f"| {o.index + 1} | {o.kind} | {o.down_to - o.down_from:.1f} s | {o.searches_down}"
                f" | {o.slowest_503_ms:.0f} ms | {o.health_status} | {seconds(o.claim_resume_s)}"
                f" | {seconds(o.search_recovery_s)} |"
            )
        return "\n".join(lines)


class Chaos:
    def __init__(self, stack: Stack, plan: Plan) -> None:
        self.stack = stack
        self.plan = plan
        self.report = Report(plan)
        self.searches: list[Search] = []
        self.urls: list[str] = []
        self._stop_searching = asyncio.Event()
        values = stack.values
        self.gateway = f"http://{values['GATEWAY_LISTEN']}"
        self.upstream = f"http://{values['SAMPLE_UPSTREAM_LISTEN']}"
        self.token = mint(values["SUPABASE_JWT_SECRET"], values["SUPABASE_JWT_ISSUER"], "chaos")
        self.admin_dsn = stack.pg.dsn("following")

    async def run(self) -> Report:
        pids = {name: self.stack.pid(name) for name in SERVICES}
        timeout = aiohttp.ClientTimeout(total=15)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            grpc.aio.insecure_channel(self.stack.values["CDN_ADDR"]) as channel,
        ):
            cdn = cdn_pb2_grpc.CdnServiceStub(channel)
            for username in SEARCHED:  # fetched once, then answered from the store
                await self._search(http, username)
            streams = [asyncio.create_task(self._search_stream(http, n)) for n in range(2)]
            rng = random.Random(self.plan.seed)
            per_round = self._per_round()
            for index, kind in enumerate(self.plan.kinds()):
                seconds = rng.uniform(self.plan.min_outage_s, self.plan.max_outage_s)
                outage = Outage(index, kind, seconds)
                self.report.outages.append(outage)
                await self._enqueue(cdn, index, per_round[index])
                await asyncio.sleep(self.plan.lead_s)
                await self._outage(http, outage)
                await self._after(outage, index)
            await self._settle()
            self._stop_searching.set()
            await asyncio.gather(*streams)
        self._judge_searches()
        await self._check_jobs()
        now = {name: self.stack.pid(name) for name in SERVICES}
        self.report.restarted = [name for name in SERVICES if now[name] != pids[name] or now[name] is None]
        self.report.searches = len(self.searches)
        return self.report

    def _per_round(self) -> list[int]:
        """API-enqueued jobs per round; with the one probe job per round they add up to `plan.jobs`."""
        api_jobs = self.plan.jobs - self.plan.outages
        base, extra = divmod(api_jobs, self.plan.outages)
        return [base + (1 if i < extra else 0) for i in range(self.plan.outages)]

    def _image(self, name: str, delay_ms: int) -> str:
        username = next(c.username for c in CREATORS if not c.private)
        return f"{self.upstream}/media/{username}/{name}_320x400.jpg?__fault=slow;delay_ms={delay_ms}"

    async def _enqueue(self, cdn: cdn_pb2_grpc.CdnServiceStub, index: int, count: int) -> None:
        urls = [self._image(f"chaos{index}-{i}", 300 + 50 * (i % 5)) for i in range(count)]
        request = cdn_pb2.EnqueueJobsRequest(
            jobs=[cdn_pb2.JobSpec(source_url=u, kind=cdn_pb2.ASSET_KIND_POST_IMAGE, owner=OWNER) for u in urls]
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                await cdn.EnqueueJobs(request, timeout=5)
                break
            except grpc.aio.AioRpcError as exc:
                self.report.errors_5xx[f"{exc.code().name} cdn EnqueueJobs"] += 1
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        self.urls.extend(urls)
        self.report.enqueued += len(urls)

    async def _outage(self, http: aiohttp.ClientSession, outage: Outage) -> None:
        if outage.kind == "terminate":
            admin = await asyncpg.connect(self.admin_dsn)
            try:
                await admin.execute("ALTER DATABASE following WITH CONNECTION LIMIT 0")
                await self._terminate_all(admin)
                outage.down_from = time.monotonic()
                end = outage.down_from + outage.seconds
                probed = False
                while time.monotonic() < end:
                    await self._terminate_all(admin)  # anything that slipped in before the limit took hold
                    if not probed and time.monotonic() > outage.down_from + 1.0:
                        outage.health_status = await self._health(http)
                        probed = True
                    await asyncio.sleep(0.2)
                outage.down_to = time.monotonic()
                await admin.execute("ALTER DATABASE following WITH CONNECTION LIMIT -1")
            finally:
                await admin.close()
        else:
            await asyncio.to_thread(self.stack.pg.stop, outage.kind.removeprefix("stop-"))
            outage.down_from = time.monotonic()
            await asyncio.sleep(min(1.0, outage.seconds / 2))
            outage.health_status = await self._health(http)
            await asyncio.sleep(max(0.0, outage.down_from + outage.seconds - time.monotonic()))
            outage.down_to = time.monotonic()
            await asyncio.to_thread(self.stack.pg.start)
        outage.up_at = time.monotonic()

    @staticmethod
    async def _terminate_all(admin: asyncpg.Connection) -> None:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )

    async def _after(self, outage: Outage, index: int) -> None:
        """Writes the probe job straight into the queue and times its claim; waits for searches to work again."""
        url = self._image(f"chaos{index}-probe", 0)
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            # Highest priority, so it is the next job claimed; claiming stamps updated_at (a deferral may follow at
            # once, so the state alone can miss it).
            job_id, written = await admin.fetchrow(
                "INSERT INTO cdn.jobs (source_url, kind, priority, owner, max_attempts)"
                " VALUES ($1, $2, $3, $4, 5) RETURNING id, updated_at",
                url,
                cdn_pb2.ASSET_KIND_POST_IMAGE,
                cdn_pb2.PRIORITY_CRITICAL,
                OWNER,
            )
            self.urls.append(url)
            self.report.enqueued += 1
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if await admin.fetchval("SELECT updated_at > $2 FROM cdn.jobs WHERE id = $1", job_id, written):
                    outage.claim_resume_s = time.monotonic() - outage.up_at
                    break
                await asyncio.sleep(0.02)
        finally:
            await admin.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if any(s.started >= outage.up_at and s.status == 200 for s in self.searches):
                break
            await asyncio.sleep(0.05)

    async def _settle(self) -> None:
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            deadline = time.monotonic() + self.plan.settle_s
            while time.monotonic() < deadline:
                open_jobs = await admin.fetchval(
                    "SELECT count(*) FROM cdn.jobs WHERE source_url = ANY($1) AND state NOT IN ('done', 'dead')",
                    self.urls,
                )
                if open_jobs == 0:
                    return
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    async def _check_jobs(self) -> None:
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            rows = await admin.fetch(
                "SELECT j.source_url, j.state, j.last_error,"
                " (SELECT count(*) FROM cdn.attempts a WHERE a.job_id = j.id AND a.outcome = 'done') AS done"
                " FROM cdn.jobs j WHERE j.source_url = ANY($1)",
                self.urls,
            )
            keys = {r["object_key"] for r in await admin.fetch("SELECT DISTINCT object_key FROM cdn.renditions")}
        finally:
            await admin.close()
        found = {row["source_url"]: row for row in rows}
        self.report.lost = len(set(self.urls) - set(found))
        self.report.done_once = sum(1 for r in rows if r["state"] == "done" and r["done"] == 1)
        self.report.done_twice = sum(1 for r in rows if r["done"] > 1)
        self.report.dead = sum(1 for r in rows if r["state"] == "dead")
        self.report.stuck = sum(1 for r in rows if r["state"] not in ("done", "dead"))
        self.report.unfinished = Counter(f"{r['state']}: {r['last_error'][:80]}" for r in rows if r["state"] != "done")
        root = self.stack.run / "cdn"
        stored = {
            str(path.relative_to(root))
            for path in root.rglob("*")
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
        }
        self.report.orphan_objects = len(stored - keys)

    async def _search(self, http: aiohttp.ClientSession, username: str) -> Search:
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        try:
            async with http.post(
                f"{self.gateway}/api/v1/creator/search/{username}", json={"refresh": False}, headers=headers
            ) as reply:
                await reply.read()
                status, retry_after = reply.status, reply.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError):
            status, retry_after = 0, None
        return Search(started, time.monotonic(), status, retry_after)

    async def _search_stream(self, http: aiohttp.ClientSession, offset: int) -> None:
        n = offset
        while not self._stop_searching.is_set():
            self.searches.append(await self._search(http, SEARCHED[n % len(SEARCHED)]))
            n += 1
            await asyncio.sleep(0.05)

    async def _health(self, http: aiohttp.ClientSession) -> int:
        try:
            async with http.get(f"{self.gateway}/api/health") as reply:
                await reply.read()
                return reply.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    def _judge_searches(self) -> None:
        for search in self.searches:
            if search.status >= 500 or search.status == 0:
                self.report.errors_5xx[f"{search.status or 'no answer'} search"] += 1
        for outage in self.report.outages:
            during = [s for s in self.searches if s.started >= outage.down_from and s.ended <= outage.down_to]
            outage.searches_down = len(during)
            for search in during:
                if search.status != 503:
                    self.report.errors_5xx[f"{search.status} search during an outage"] += 1
                    continue
                outage.slowest_503_ms = max(outage.slowest_503_ms, search.latency * 1000)
                if search.latency > FAIL_FAST_LIMIT_S:
                    self.report.slow_503 += 1
                    self.report.slow_503_at.append(
                        (outage.index + 1, search.started - outage.down_from, search.latency * 1000)
                    )
                if not search.retry_after:
                    self.report.missing_retry_after += 1
            after = [s for s in self.searches if s.started >= outage.up_at and s.status == 200]
            if after:
                outage.search_recovery_s = min(s.ended for s in after) - outage.up_at


def run(plan: Plan, keep: bool = False) -> Report:
    """Runs the chaos plan against a fresh private stack and tears it down."""
    stack = private_stack("following-chaos-")
    try:
        # The creator mirrors its creators' images through a CDN address where nothing listens (they wait in its
        # outbox), so the CDN's workers serve the chaos jobs alone and the figures do not depend on that backlog.
        stack.up(extra_env={"creator": {"CDN_ADDR": f"127.0.0.1:{free_port()}"}}, only=SERVICES)
        return asyncio.run(Chaos(stack, plan).run())
    finally:
        stack.down()
        if not keep:
            shutil.rmtree(stack.run, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outages", type=int, default=Plan.outages)
    parser.add_argument("--jobs", type=int, default=Plan.jobs)
    parser.add_argument("--min-outage", type=float, default=Plan.min_outage_s)
    parser.add_argument("--max-outage", type=float, default=Plan.max_outage_s)
    parser.add_argument("--terminations", type=int, default=Plan.terminations)
    parser.add_argument("--seed", type=int, default=Plan.seed)
    parser.add_argument("--keep", action="store_true", help="keep the run folder (logs) for inspection")
    args = parser.parse_args()
    plan = Plan(args.outages, args.jobs, args.min_outage, args.max_outage, args.terminations, args.seed)
    report = run(plan, keep=args.keep or os.environ.get("KEEP_CHAOS_RUN") == "1")
    print(report.table())
    problems = report.problems()
    print()
    verdict = f"OK: every check held ({report.searches} searches)"
    print("\n".join(f"FAIL: {p}" for p in problems) if problems else verdict)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
