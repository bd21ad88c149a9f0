/**
 * The report as DOM: profile and avatar, the engagement figures with their definitions, the two charts, the post
 * cards with their AI labels, and the unlocked list. Text goes in through textContent only, never as HTML.
 */

import type { CreatorReport, ListUnlockedResponse, Post, Schemas } from "../../typescript/src/index.js";
import { engagementBars, followerChart } from "./charts.js";

type Attrs = Record<string, string>;

export function el(tag: string, attrs: Attrs = {}, ...children: (Node | string | null)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) if (child !== null) node.append(child);
  return node;
}

const count = new Intl.NumberFormat("en");
const percent = (rate: number | undefined): string => (rate === undefined ? "—" : `${(rate * 100).toFixed(2)} %`);
const number = (value: number | undefined, digits = 1): string => (value === undefined ? "—" : value.toFixed(digits));
/** 64-bit counts arrive as decimal strings; they fit a double for any real follower count. */
const big = (value: string | undefined): string => (value ? count.format(Number(value)) : "—");

function image(media: Schemas["Media"] | undefined, alt: string, className: string): HTMLElement {
  if (!media?.url) return el("div", { class: `${className} placeholder` }, "no image");
  return el("img", { src: media.url, alt, class: className, loading: "eager", "data-state": media.state });
}

function profileCard(report: CreatorReport): HTMLElement {
  const p = report.profile;
  const fresh = report.freshness;
  const source = fresh?.stale
    ? "stored report (Instagram failed)"
    : fresh?.from_cache
      ? `stored report, ${Math.round(fresh.age_seconds / 60)} min old`
      : "fresh from Instagram";
  return el(
    "div",
    { class: "profile", "data-testid": "profile" },
    image(p?.avatar, `avatar of ${p?.username ?? ""}`, "avatar"),
    el(
      "div",
      {},
      el("h2", {}, p?.full_name || p?.username || "", p?.is_verified ? el("span", { class: "badge" }, "verified") : null),
      el("div", { class: "muted" }, `@${p?.username ?? ""}${p?.category ? ` · ${p.category}` : ""} · ${source}`),
      el("p", {}, p?.biography ?? ""),
      el(
        "div",
        { class: "counts" },
        el("span", {}, el("b", {}, big(p?.followers_count)), " followers"),
        el("span", {}, el("b", {}, big(p?.following_count)), " following"),
        el("span", {}, el("b", {}, big(p?.posts_count)), " posts"),
      ),
    ),
  );
}

function figures(report: CreatorReport): HTMLElement {
  const e = report.analytics?.engagement;
  const f = report.analytics?.frequency;
  const rows: [string, string, string][] = [
    ["Mean engagement", percent(e?.mean_rate), "Mean over posts of (likes + comments) / followers at fetch time."],
    ["Median engagement", percent(e?.median_rate), "Median of the same per-post rates."],
    ["Average likes", number(e?.avg_likes, 0), "Mean likes over posts with visible likes."],
    ["Average comments", number(e?.avg_comments, 0), "Mean comments over the recent posts."],
    ["Posts per week", number(f?.posts_per_week), "Intervals between posts divided by their span in weeks."],
    ["Longest gap", f?.longest_gap_days === undefined ? "—" : `${f.longest_gap_days.toFixed(1)} days`, "Longest time between two posts."],
    ["Main category", report.analytics?.dominant_category || "—", "The most frequent category the AI gave the posts."],
  ];
  const considered = e
    ? `Over ${e.posts_considered} non-pinned posts with visible likes${e.absent_reason ? ` (absent: ${e.absent_reason})` : ""}.`
    : "";
  return el(
    "section",
    { class: "figures", "data-testid": "figures" },
    el("h3", {}, "Engagement"),
    el(
      "dl",
      {},
      ...rows.flatMap(([name, value, definition]) => [
        el("dt", {}, name),
        el("dd", {}, el("b", {}, value), el("small", {}, definition)),
      ]),
    ),
    el("p", { class: "muted" }, considered),
  );
}

function labels(post: Post): HTMLElement {
  const a = post.analysis;
  if (!a?.analyzed) return el("div", { class: "labels muted" }, "not analysed");
  const sentiment = a.sentiment.replace(/^SENTIMENT_/, "").toLowerCase();
  return el(
    "div",
    { class: "labels", "data-testid": "ai-labels" },
    a.category ? el("span", { class: "label", title: `category score ${a.category_score.toFixed(2)}` }, a.category) : null,
    el("span", { class: `label ${sentiment}`, title: `sentiment score ${a.sentiment_score.toFixed(2)}` }, sentiment),
    a.language ? el("span", { class: "label" }, a.language) : null,
  );
}

function postCard(post: Post, index: number): HTMLElement {
  return el(
    "article",
    { class: "post", "data-testid": "post" },
    image(post.image, post.caption.slice(0, 80), "thumb"),
    el(
      "div",
      { class: "muted" },
      `#${index + 1} · ${big(post.likes_count)} likes · ${big(post.comments_count)} comments · ${percent(post.engagement_rate)}`,
    ),
    labels(post),
    el("p", { class: "caption" }, post.caption.length > 140 ? `${post.caption.slice(0, 140)}…` : post.caption),
  );
}

/** The growth figures under the follower chart; an absent figure shows its reason, never 0. */
export function growthLine(growth: Schemas["GrowthFigures"] | undefined): string {
  if (!growth) return "";
  const windows = growth.windows.map((w) =>
    w.followers_gained === undefined
      ? `${w.days} d: — (${w.absent_reason})`
      : `${w.days} d: ${Number(w.followers_gained) >= 0 ? "+" : ""}${big(w.followers_gained)} (${percent(w.growth_rate)})`,
  );
  const daily =
    growth.avg_daily_gain === undefined ? `— (${growth.avg_daily_gain_absent_reason})` : `${number(growth.avg_daily_gain)}/day`;
  return `Growth ${windows.join(" · ")} · average ${daily} · ${growth.snapshots_considered} snapshots`;
}

/** The authenticity score with the signals behind it (public data only). */
function authenticityPanel(block: Schemas["Authenticity"] | undefined): HTMLElement | null {
  if (!block) return null;
  const head =
    block.score === undefined
      ? `Authenticity: — (${block.absent_reason})`
      : `Authenticity: ${Math.round(block.score)}/100 (${block.band}), from public data only`;
  return el(
    "section",
    { class: "authenticity", "data-testid": "authenticity" },
    el("h3", {}, head),
    el(
      "ul",
      {},
      ...block.signals.map((s) =>
        el("li", {}, `${s.name}: ${s.contribution.toFixed(1)} points — ${s.absent_reason ? `absent (${s.absent_reason})` : s.explanation}`),
      ),
    ),
  );
}

/** Fills `target` with the report; the history chart fills in when `history` resolves. */
export function renderReport(
  target: HTMLElement,
  report: CreatorReport,
  history: Promise<Schemas["GetHistoryResponse"]>,
): void {
  const followers = el("div", { class: "chart", "data-testid": "followers-chart" });
  const bars = el("div", { class: "chart", "data-testid": "engagement-chart" });
  target.replaceChildren(
    profileCard(report),
    figures(report),
    ...[authenticityPanel(report.authenticity)].filter((node): node is HTMLElement => node !== null),
    el(
      "section",
      { class: "charts" },
      el("div", {}, el("h3", {}, "Followers over time"), followers),
      el("div", {}, el("h3", {}, "Engagement per post"), bars),
    ),
    el("h3", {}, "Recent posts"),
    el("section", { class: "posts" }, ...report.recent_posts.map(postCard)),
  );
  target.hidden = false;
  if (!engagementBars(bars, report.recent_posts)) bars.append(el("p", { class: "muted" }, "No post has a rate."));
  history.then(
    (h) => {
      if (!followerChart(followers, h.snapshots)) followers.append(el("p", { class: "muted" }, "No history yet."));
      followers.append(el("p", { class: "muted", "data-testid": "growth" }, growthLine(h.growth)));
    },
    () => followers.append(el("p", { class: "muted" }, "History unavailable.")),
  );
}

export function renderUnlocked(target: HTMLElement, unlocked: ListUnlockedResponse, open: (name: string) => void): void {
  if (unlocked.creators.length === 0) {
    target.replaceChildren(el("li", { class: "muted" }, "None yet: search a creator to unlock it."));
    return;
  }
  target.replaceChildren(
    ...unlocked.creators.map((c) => {
      const link = el("a", { href: `#${c.username}` }, `@${c.username}`);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        open(c.username);
      });
      return el("li", {}, link, el("span", { class: "muted" }, ` ${big(c.followers_count)} · ${percent(c.mean_engagement_rate)}`));
    }),
  );
}
