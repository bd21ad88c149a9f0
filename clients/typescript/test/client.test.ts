/**
 * The client against a running stack (FOLLOWING_GATEWAY, with FOLLOWING_TOKEN_ALICE and FOLLOWING_TOKEN_BOB minted for
 * two users), and its retry policy against a small local HTTP server that answers as a busy gateway would.
 */

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";

import { errorFromResponse, FollowingClient, FollowingError, type CreatorReport } from "../src/index.js";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through tests/e2e/test_typescript_client.py`);
  return value;
}

const gateway = env("FOLLOWING_GATEWAY");
const alice = new FollowingClient({ baseUrl: gateway, token: async () => env("FOLLOWING_TOKEN_ALICE") });
const bob = new FollowingClient({ baseUrl: gateway, token: async () => env("FOLLOWING_TOKEN_BOB") });

async function rejection(promise: Promise<unknown>): Promise<FollowingError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FollowingError, `expected a FollowingError, got ${String(error)}`);
    return error;
  }
  assert.fail("the call succeeded");
}

describe("against the stack", () => {
  let report: CreatorReport;
  before(async () => {
    report = await alice.search("fit.bayann");
  });

  test("search returns the typed report with 64-bit counts as decimal strings", () => {
    assert.equal(report.profile?.username, "fit.bayann");
    assert.match(report.profile?.followers_count ?? "", /^\d+$/);
    assert.ok(report.recent_posts.length > 0);
    assert.equal(typeof report.analytics?.engagement?.posts_considered, "number");
  });

  test("search accepts a profile URL", async () => {
    const again = await alice.search("https://www.instagram.com/fit.bayann/");
    assert.equal(again.profile?.username, "fit.bayann");
  });

  test("unlocked, posts and history answer for the user who searched", async () => {
    const unlocked = await alice.unlocked();
    assert.ok(unlocked.creators.some((c) => c.username === "fit.bayann"));
    const posts = await alice.posts("fit.bayann", { pageSize: 3 });
    assert.equal(posts.posts.length, 3);
    const history = await alice.history("fit.bayann");
    assert.ok(history.snapshots.length >= 1);
  });

  test("another user sees none of the first user's unlocks and is refused their posts", async () => {
    const unlocked = await bob.unlocked();
    assert.ok(!unlocked.creators.some((c) => c.username === "fit.bayann"));
    const error = await rejection(bob.posts("fit.bayann"));
    assert.equal(error.status, 403);
    assert.equal(error.code, 7);
    assert.ok(error.reason === null || error.reason === "NOT_UNLOCKED", `reason ${error.reason}`);
  });

  test("a missing creator is a typed 404", async () => {
    const error = await rejection(alice.search("no.such.creator.here"));
    assert.equal(error.status, 404);
    assert.equal(error.code, 5);
    assert.ok(error.message.length > 0);
    assert.ok(error.reason === null || error.reason === "CREATOR_NOT_FOUND", `reason ${error.reason}`);
  });

  test("discover answers a typed page and refuses contradictory filters with a typed 400", async () => {
    const page = await alice.discover("fitness and workouts", { pageSize: 5, minFollowers: 0 });
    assert.ok(Array.isArray(page.creators));
    assert.ok(page.creators.length <= 5);
    const error = await rejection(alice.discover("fitness", { minFollowers: 10, maxFollowers: 5 }));
    assert.equal(error.status, 400);
    assert.equal(error.reason, "INVALID_ARGUMENT");
    assert.match(error.message, /min_followers/);
  });

  test("similar of a creator never stored is a typed 404", async () => {
    const error = await rejection(alice.similar("no.such.creator.here"));
    assert.equal(error.status, 404);
    assert.equal(error.code, 5);
  });

  test("a call without a token is a typed 401", async () => {
    const anonymous = new FollowingClient({ baseUrl: gateway, token: async () => null });
    const error = await rejection(anonymous.unlocked());
    assert.equal(error.status, 401);
    assert.ok(error.reason === null || error.reason === "TOKEN_MISSING", `reason ${error.reason}`);
  });

  test("the token provider is asked on every request", async () => {
    const tokens = [env("FOLLOWING_TOKEN_ALICE"), env("FOLLOWING_TOKEN_BOB")];
    let calls = 0;
    const switching = new FollowingClient({ baseUrl: gateway, token: async () => tokens[calls++ % 2] ?? null });
    assert.ok((await switching.unlocked()).creators.some((c) => c.username === "fit.bayann"));
    assert.ok(!(await switching.unlocked()).creators.some((c) => c.username === "fit.bayann"));
    assert.equal(calls, 2);
  });

  test("an unreachable gateway is a FollowingError with status 0", async () => {
    const nowhere = new FollowingClient({ baseUrl: "http://127.0.0.1:9", retry: { retries: 0 } });
    const error = await rejection(nowhere.health());
    assert.equal(error.status, 0);
  });
});

describe("error bodies", () => {
  test("ErrorInfo reason and metadata and RetryInfo delay are read from details", () => {
    const error = errorFromResponse(429, new Headers(), {
      code: 8,
      message: "slow down",
      details: [
        {
          "@type": "type.googleapis.com/google.rpc.ErrorInfo",
          reason: "RATE_LIMITED",
          domain: "following",
          metadata: { limit: "50" },
        },
        { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "2.5s" },
      ],
    });
    assert.equal(error.reason, "RATE_LIMITED");
    assert.deepEqual(error.metadata, { limit: "50" });
    assert.equal(error.retryAfter, 2.5);
    assert.equal(error.code, 8);
  });

  test("a Retry-After header wins over RetryInfo; a plain-text body becomes the message", () => {
    const headed = errorFromResponse(503, new Headers({ "retry-after": "7" }), {
      code: 14,
      message: "busy",
      details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1s" }],
    });
    assert.equal(headed.retryAfter, 7);
    const plain = errorFromResponse(502, new Headers(), "upstream connect error");
    assert.equal(plain.message, "upstream connect error");
    assert.equal(plain.reason, null);
    assert.equal(plain.code, null);
  });
});

describe("retries", () => {
  let hits = 0;
  let script: Array<(res: ServerResponse) => void> = [];
  let base = "";
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    hits++;
    const next = script.shift();
    if (next) return next(res);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "HEALTH_STATUS_SERVING" }));
  });
  const busy =
    (status: number, retryAfter: string) =>
    (res: ServerResponse): void => {
      res
        .writeHead(status, { "content-type": "application/json", "retry-after": retryAfter })
        .end(JSON.stringify({ code: status === 429 ? 8 : 14, message: "busy" }));
    };
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("an idempotent call answered 503 then 429 is retried after Retry-After and succeeds", async () => {
    hits = 0;
    script = [busy(503, "0"), busy(429, "1")];
    const client = new FollowingClient({ baseUrl: base });
    const started = Date.now();
    await client.health();
    assert.equal(hits, 3);
    assert.ok(Date.now() - started >= 900, "waited the second answer's Retry-After");
  });

  test("retries are bounded and the last answer's error carries retryAfter", async () => {
    hits = 0;
    script = [busy(503, "0"), busy(503, "0"), busy(503, "0"), busy(503, "0")];
    const client = new FollowingClient({ baseUrl: base, retry: { retries: 2 } });
    const error = await rejection(client.health());
    assert.equal(hits, 3);
    assert.equal(error.status, 503);
    assert.equal(error.retryAfter, 0);
  });

  test("a Retry-After longer than the policy allows is handed back at once", async () => {
    hits = 0;
    script = [busy(429, "120")];
    const client = new FollowingClient({ baseUrl: base, retry: { maxDelayMs: 1000 } });
    const error = await rejection(client.health());
    assert.equal(hits, 1);
    assert.equal(error.retryAfter, 120);
  });

  test("a search (POST) is not retried", async () => {
    hits = 0;
    script = [busy(503, "0")];
    const client = new FollowingClient({ baseUrl: base });
    const error = await rejection(client.search("fit.bayann"));
    assert.equal(hits, 1);
    assert.equal(error.status, 503);
  });
});
