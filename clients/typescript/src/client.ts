/**
 * The typed client: openapi-fetch over the generated `paths`, a token provider asked before every request, errors
 * thrown as `FollowingError`, and idempotent calls retried as `retry.ts` says. The methods below are conveniences over
 * the generated routes; `raw` gives the openapi-fetch client for anything else, with the same auth and retries.
 */

import createClient, { type Client, type Middleware } from "openapi-fetch";

import { errorFromResponse, FollowingError } from "./errors.js";
import { retrying, type FetchLike, type RetryPolicy } from "./retry.js";
import type { components, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type CreatorReport = Schemas["CreatorReport"];
export type Post = Schemas["Post"];
export type ListPostsResponse = Schemas["ListPostsResponse"];
export type GetHistoryResponse = Schemas["GetHistoryResponse"];
export type ListUnlockedResponse = Schemas["ListUnlockedResponse"];
export type GetHealthResponse = Schemas["GetHealthResponse"];
export type SimilarCreatorsResponse = Schemas["SimilarCreatorsResponse"];
export type DiscoverResponse = Schemas["DiscoverResponse"];

/**
 * Returns the current access token, or null to call without one. With Supabase:
 * `async () => (await supabase.auth.getSession()).data.session?.access_token ?? null`.
 */
export type TokenProvider = () => Promise<string | null>;

export interface ClientOptions {
  /** The gateway's base URL, e.g. `https://api.example.com` or `http://127.0.0.1:8080`. */
  baseUrl: string;
  token?: TokenProvider;
  retry?: RetryPolicy;
  /** A fetch to use instead of the global one. */
  fetch?: FetchLike;
}

export interface SearchOptions {
  /** Fetch from Instagram even when the stored report is fresh. */
  refresh?: boolean;
  /** Posts to analyse (0 or absent: the server's default). */
  postLimit?: number;
  signal?: AbortSignal;
}

export interface DiscoverOptions {
  minFollowers?: number;
  maxFollowers?: number;
  /** Keep creators with at least one of these topics. */
  categories?: string[];
  /** Keep creators with at least one of these languages (ISO 639-1). */
  languages?: string[];
  /** Keep creators whose mean engagement rate (a fraction) is at least this. */
  minEngagementRate?: number;
  pageSize?: number;
  pageToken?: string;
  signal?: AbortSignal;
}

/** The name a profile URL ends with (`https://instagram.com/name/` -> `name`); other text trimmed. */
export function profileName(text: string): string {
  const trimmed = text.trim();
  const match = /^(?:https?:\/\/)?(?:www\.|m\.)?(?:instagram\.com|instagr\.am)\/([^/?#]+)\/?(?:[?#].*)?$/i.exec(trimmed);
  return match?.[1] ?? trimmed;
}

async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (error) {
    if (error instanceof FollowingError) throw error;
    if (error instanceof Error && error.name === "AbortError") throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new FollowingError({ status: 0, message: `cannot reach the gateway: ${reason}` });
  }
  const { data, error, response } = result;
  if (!response.ok || error !== undefined) throw errorFromResponse(response.status, response.headers, error);
  return data as T;
}

export class FollowingClient {
  /** The openapi-fetch client, for routes without a convenience method. */
  readonly raw: Client<paths>;

  constructor(options: ClientOptions) {
    const base: FetchLike = options.fetch ?? ((request) => globalThis.fetch(request));
    this.raw = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      fetch: retrying(base, options.retry),
    });
    const token = options.token;
    if (token) {
      const auth: Middleware = {
        async onRequest({ request }) {
          const value = await token();
          if (value) request.headers.set("Authorization", `Bearer ${value}`);
          return request;
        },
      };
      this.raw.use(auth);
    }
  }

  /** Searches a creator (a name, @name or profile URL), unlocking it for the caller; the full report. */
  search(username: string, options: SearchOptions = {}): Promise<CreatorReport> {
    const body: { refresh?: boolean; post_limit?: number } = {};
    if (options.refresh) body.refresh = true;
    if (options.postLimit) body.post_limit = options.postLimit;
    return unwrap(
      this.raw.POST("/api/v1/creator/search/{username}", {
        params: { path: { username: profileName(username) } },
        body,
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    );
  }

  /** The creators the caller has unlocked, most recent first. */
  unlocked(page: { pageSize?: number; pageToken?: string } = {}): Promise<ListUnlockedResponse> {
    return unwrap(
      this.raw.GET("/api/v1/creator/unlocked", {
        params: { query: { page_size: page.pageSize, page_token: page.pageToken } },
      }),
    );
  }

  /** A page of an unlocked creator's posts. */
  posts(username: string, page: { pageSize?: number; pageToken?: string } = {}): Promise<ListPostsResponse> {
    return unwrap(
      this.raw.GET("/api/v1/creator/{username}/posts", {
        params: { path: { username: profileName(username) }, query: { page_size: page.pageSize, page_token: page.pageToken } },
      }),
    );
  }

  /** An unlocked creator's follower history, oldest first. */
  history(username: string, limit?: number): Promise<GetHistoryResponse> {
    return unwrap(
      this.raw.GET("/api/v1/creator/{username}/history", {
        params: { path: { username: profileName(username) }, query: { limit } },
      }),
    );
  }

  /** The stored creators most similar to this one (lookalikes), most similar first. */
  similar(username: string, pageSize?: number): Promise<SimilarCreatorsResponse> {
    return unwrap(
      this.raw.GET("/api/v1/creator/{username}/similar", {
        params: { path: { username: profileName(username) }, query: { page_size: pageSize } },
      }),
    );
  }

  /** Stored creators by meaning (or lookalikes of "@name"), best first, with exact filters; a page of at most 200. */
  discover(query: string, options: DiscoverOptions = {}): Promise<DiscoverResponse> {
    // int64 fields travel as decimal strings (proto3 JSON).
    const body: NonNullable<paths["/api/v1/discover"]["post"]["requestBody"]>["content"]["application/json"] = { query };
    if (options.minFollowers !== undefined) body.min_followers = String(options.minFollowers);
    if (options.maxFollowers !== undefined) body.max_followers = String(options.maxFollowers);
    if (options.categories?.length) body.categories = options.categories;
    if (options.languages?.length) body.languages = options.languages;
    if (options.minEngagementRate !== undefined) body.min_engagement_rate = options.minEngagementRate;
    if (options.pageSize) body.page_size = options.pageSize;
    if (options.pageToken) body.page_token = options.pageToken;
    return unwrap(
      this.raw.POST("/api/v1/discover", { body, ...(options.signal ? { signal: options.signal } : {}) }),
    );
  }

  health(): Promise<GetHealthResponse> {
    return unwrap(this.raw.GET("/api/health"));
  }
}
