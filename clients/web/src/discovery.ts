/**
 * The discover box as DOM: a query with exact filters, then one row per creator (username, score, followers, topics
 * and the caption closest to the query), and a "More" button while the answer has a next page. Text goes in through
 * textContent only, never as HTML.
 */

import type { DiscoverOptions, DiscoverResponse } from "../../typescript/src/index.js";
import { el } from "./view.js";

const count = new Intl.NumberFormat("en");
const big = (value: string | undefined): string => (value ? count.format(Number(value)) : "—");

/** The filters as the form holds them; empty fields are no condition. */
export function discoverOptions(form: FormData): DiscoverOptions {
  const text = (name: string): string => String(form.get(name) ?? "").trim();
  const options: DiscoverOptions = { pageSize: 10 };
  if (text("min_followers")) options.minFollowers = Number(text("min_followers"));
  if (text("max_followers")) options.maxFollowers = Number(text("max_followers"));
  if (text("category")) options.categories = [text("category")];
  if (text("language")) options.languages = [text("language")];
  return options;
}

function row(creator: DiscoverResponse["creators"][number]): HTMLElement {
  const profile = creator.profile;
  const post = creator.matching_posts[0];
  return el(
    "li",
    { "data-testid": "discovered" },
    el("b", {}, `@${creator.username}`),
    el("span", { class: "score", "data-testid": "score" }, creator.score.toFixed(3)),
    el("span", { class: "muted" }, ` ${big(profile?.followers_count)} followers`),
    el("span", { class: "muted" }, profile?.topics.length ? ` · ${profile.topics.join(", ")}` : ""),
    post ? el("div", { class: "caption", "data-testid": "matching-post" }, `“${post.caption}”`) : null,
  );
}

/** Shows a page: replaces the list for a first page, appends to it for the next ones. */
export function renderDiscovered(target: HTMLElement, page: DiscoverResponse, append: boolean): void {
  const rows = page.creators.map(row);
  if (!append) {
    const head = page.lookalikes_of ? [el("li", { class: "muted" }, `Creators like @${page.lookalikes_of}`)] : [];
    target.replaceChildren(...head, ...rows);
    if (rows.length === 0) target.append(el("li", { class: "muted" }, "No stored creator matches."));
  } else {
    target.append(...rows);
  }
  target.hidden = false;
}
