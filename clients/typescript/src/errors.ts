/**
 * The gateway's error answers as one typed exception.
 *
 * An error body is `{"code", "message", "details"}` (google.rpc.Status in JSON). When `details` holds a
 * `google.rpc.ErrorInfo`, its `reason` is the stable, machine-readable cause to branch on; a `google.rpc.RetryInfo` or
 * a `Retry-After` header says when a retry may help. Bodies without details still give `status`, `code` and `message`.
 */

/** The stable reasons the gateway documents; other strings may appear as the API grows. */
export type KnownReason =
  | "TOKEN_MISSING"
  | "TOKEN_INVALID"
  | "TOKEN_EXPIRED"
  | "WRONG_AUDIENCE"
  | "FORBIDDEN_ROLE"
  | "ROUTE_NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "INVALID_ARGUMENT"
  | "INVALID_USERNAME"
  | "CREATOR_NOT_FOUND"
  | "NOT_UNLOCKED"
  | "UPSTREAM_THROTTLED"
  | "UPSTREAM_UNAVAILABLE"
  | "QUOTA_EXCEEDED"
  | "EMBEDDING_PENDING"
  | "RATE_LIMITED"
  | "SERVICE_UNAVAILABLE";

// `string & {}` keeps editor completion for the known names while accepting reasons added later.
export type Reason = KnownReason | (string & {});

const ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";
const RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo";

export interface ErrorDetail {
  "@type"?: string;
  [key: string]: unknown;
}

export class FollowingError extends Error {
  override readonly name = "FollowingError";
  /** HTTP status; 0 when no answer arrived (network failure). */
  readonly status: number;
  /** gRPC status code (google.rpc.Code) from the body; null when the body was not the gateway's error shape. */
  readonly code: number | null;
  /** The ErrorInfo reason when the gateway sent one. */
  readonly reason: Reason | null;
  /** ErrorInfo metadata (string values), empty when absent. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Seconds to wait before retrying, from `Retry-After` or a RetryInfo detail; null when retrying is not advised. */
  readonly retryAfter: number | null;
  readonly details: readonly ErrorDetail[];

  constructor(init: {
    status: number;
    message: string;
    code?: number | null;
    reason?: Reason | null;
    metadata?: Record<string, string>;
    retryAfter?: number | null;
    details?: ErrorDetail[];
  }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code ?? null;
    this.reason = init.reason ?? null;
    this.metadata = init.metadata ?? {};
    this.retryAfter = init.retryAfter ?? null;
    this.details = init.details ?? [];
  }
}

/** Seconds from a Retry-After header: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const when = Date.parse(text);
  if (Number.isNaN(when)) return null;
  return Math.max(0, Math.ceil((when - now) / 1000));
}

/** Seconds from a google.rpc.RetryInfo `retryDelay` ("1.5s" in JSON). */
function parseDuration(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(value);
  return match?.[1] !== undefined ? Number(match[1]) : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Builds the error for one HTTP answer from its parsed body (or raw text) and headers. */
export function errorFromResponse(status: number, headers: Headers, body: unknown): FollowingError {
  const object = isRecord(body) ? body : {};
  const rawDetails = Array.isArray(object["details"]) ? object["details"] : [];
  const details = rawDetails.filter(isRecord) as ErrorDetail[];
  const info = details.find((d) => d["@type"] === ERROR_INFO);
  const retry = details.find((d) => d["@type"] === RETRY_INFO);
  const metadata: Record<string, string> = {};
  if (info && isRecord(info["metadata"])) {
    for (const [key, value] of Object.entries(info["metadata"])) {
      if (typeof value === "string") metadata[key] = value;
    }
  }
  const text = typeof body === "string" ? body.trim() : "";
  const message =
    typeof object["message"] === "string" && object["message"] !== ""
      ? object["message"]
      : text || `HTTP ${status}`;
  return new FollowingError({
    status,
    message,
    code: typeof object["code"] === "number" ? object["code"] : null,
    reason: info && typeof info["reason"] === "string" ? info["reason"] : null,
    metadata,
    retryAfter: parseRetryAfter(headers.get("retry-after")) ?? parseDuration(retry?.["retryDelay"]),
    details,
  });
}
