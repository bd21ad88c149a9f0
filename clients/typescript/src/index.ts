/** @following/client: the typed client of the Following REST gateway. */

export { FollowingClient, profileName } from "./client.js";
export type {
  ClientOptions,
  CreatorReport,
  DiscoverOptions,
  DiscoverResponse,
  GetHealthResponse,
  GetHistoryResponse,
  ListPostsResponse,
  ListUnlockedResponse,
  Post,
  Schemas,
  SearchOptions,
  SimilarCreatorsResponse,
  TokenProvider,
} from "./client.js";
export { errorFromResponse, FollowingError, parseRetryAfter } from "./errors.js";
export type { ErrorDetail, KnownReason, Reason } from "./errors.js";
export { retrying } from "./retry.js";
export type { FetchLike, RetryPolicy } from "./retry.js";
export type { components, paths } from "./schema.js";
