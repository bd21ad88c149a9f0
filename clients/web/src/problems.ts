/** What the page says for a failed call: a sentence per documented reason, the HTTP status when no reason came. */

import { FollowingError } from "../../typescript/src/index.js";

export interface Problem {
  title: string;
  detail: string;
  reason: string | null;
}

const BY_REASON: Record<string, string> = {
  TOKEN_MISSING: "You are not signed in.",
  TOKEN_INVALID: "Your sign-in was not accepted; sign in again.",
  TOKEN_EXPIRED: "Your session expired; sign in again.",
  WRONG_AUDIENCE: "This token is not meant for this API.",
  FORBIDDEN_ROLE: "Your account may not use this page.",
  INVALID_USERNAME: "That is not a valid Instagram username.",
  INVALID_ARGUMENT: "The request was not valid.",
  CREATOR_NOT_FOUND: "No Instagram creator has that name.",
  NOT_UNLOCKED: "Search this creator first to unlock it.",
  EMBEDDING_PENDING: "This creator's captions are still being read; try again shortly.",
  UPSTREAM_THROTTLED: "Instagram is limiting us right now.",
  UPSTREAM_UNAVAILABLE: "Instagram cannot be reached right now.",
  QUOTA_EXCEEDED: "You have used your search quota for now.",
  RATE_LIMITED: "Too many requests.",
  SERVICE_UNAVAILABLE: "The service is unavailable right now.",
};

const BY_STATUS: Record<number, string> = {
  0: "The API cannot be reached.",
  400: "The request was not valid.",
  401: "You are not signed in, or your session expired.",
  403: "You may not see this.",
  404: "Not found.",
  429: "Too many requests.",
  503: "The service is unavailable right now.",
  504: "The request took too long.",
};

export function describe(error: unknown): Problem {
  if (!(error instanceof FollowingError)) {
    return { title: "Something went wrong.", detail: error instanceof Error ? error.message : String(error), reason: null };
  }
  const title =
    (error.reason !== null ? BY_REASON[error.reason] : undefined) ?? BY_STATUS[error.status] ?? `HTTP ${error.status}.`;
  const wait = error.retryAfter !== null ? ` Retry in ${Math.ceil(error.retryAfter)} s.` : "";
  return { title: title + wait, detail: error.message, reason: error.reason };
}
