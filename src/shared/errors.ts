/**
 * @module errors
 * Typed errors shared by every part of the hive. Each error carries a stable string `code` that
 * crosses the wire unchanged, an HTTP-ish `status` for the dashboard, and a message written for the
 * person (or model) who has to act on it. Mapping to replies happens in one place per surface:
 * `toErrorReply` for the sockets, the dashboard's `onError` for HTTP.
 */

/** Stable error codes. They appear in socket replies and MCP tool errors; never rename one. */
export type ErrorCode =
  | 'bad_request' // the request did not match its schema
  | 'bad_name' // an agent name failed validation
  | 'bad_config' // an agent's config file failed to parse or validate
  | 'too_large' // a request line or a field exceeded its size limit
  | 'not_found' // the named agent / message / object does not exist
  | 'exists' // create of something that already exists
  | 'forbidden' // the caller's identity or policy does not allow this
  | 'conflict' // the object is in a state that does not allow this now
  | 'unavailable' // a dependency (socket, runtime) could not be reached
  | 'internal'; // a bug: the message says what failed

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  bad_name: 400,
  bad_config: 422,
  too_large: 413,
  not_found: 404,
  exists: 409,
  forbidden: 403,
  conflict: 409,
  unavailable: 503,
  internal: 500,
};

/** An expected failure with a stable `code`. Throw it anywhere; surfaces map it to their reply shape. */
export class HiveError extends Error {
  readonly code: ErrorCode;
  /** HTTP status the dashboard answers with (400–503). */
  readonly status: number;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'HiveError';
    this.code = code;
    this.status = STATUS[code];
  }
}

/** The `{code, message}` shape every surface reports. Unknown throwables become `internal`. */
export function toErrorInfo(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof HiveError) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message: `internal error: ${message}` };
}
