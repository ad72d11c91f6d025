/**
 * Typed errors of {@linkcode VoiceSession}. Every error is a {@linkcode VoiceSessionError} with a
 * stable `code`, so callers can branch on the class or on the code.
 *
 * @module
 */

/** Stable codes of {@linkcode VoiceSessionError}s raised by the client itself. */
export type ClientErrorCode =
  | "not_connected"
  | "connect_failed"
  | "connection_closed"
  | "timeout"
  | "bad_audio"
  | "bad_option";

/**
 * The base class of every error the SDK raises or emits.
 *
 * @example Branch on the error class
 * ```ts
 * import { TimeoutError, VoiceSessionError } from "./mod.ts";
 *
 * const error: unknown = new TimeoutError("listen", 10);
 * if (error instanceof VoiceSessionError) console.log(error.code); // "timeout"
 * ```
 */
export class VoiceSessionError extends Error {
  /** A stable machine-readable code: a {@linkcode ClientErrorCode} or the gateway's code. */
  readonly code: string;

  /** Creates an error with a code and a message. */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "VoiceSessionError";
    this.code = code;
  }
}

/** A method that needs a live connection was called before `connect()` or after it closed. */
export class NotConnectedError extends VoiceSessionError {
  /** Creates the error for the method that was called. */
  constructor(method: string) {
    super("not_connected", `Cannot ${method}: the session is not connected; call connect() first`);
    this.name = "NotConnectedError";
  }
}

/** `connect()` failed: the gateway refused the connection, cannot be reached, or misbehaved. */
export class ConnectionError extends VoiceSessionError {
  /** Creates the error with what went wrong. */
  constructor(message: string, options?: ErrorOptions) {
    super("connect_failed", message, options);
    this.name = "ConnectionError";
  }
}

/**
 * The connection closed while something was pending (or unexpectedly, emitted as an `error`
 * event). `closeCode` and `reason` are the WebSocket close code and reason; `cause` holds the
 * gateway's `error` message when it explained the close.
 */
export class ConnectionClosedError extends VoiceSessionError {
  /** The WebSocket close code (1000 normal, 1006 abnormal, 1009 too large, 1011 server). */
  readonly closeCode: number;
  /** The WebSocket close reason. */
  readonly reason: string;

  /** Creates the error from a close code and reason. */
  constructor(closeCode: number, reason: string, options?: ErrorOptions) {
    super(
      "connection_closed",
      `Connection closed (${closeCode}${reason ? `: ${reason}` : ""})`,
      options,
    );
    this.name = "ConnectionClosedError";
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/** A wait (`listen`, `receive`, `respond`, `connect`, …) ran past its timeout. */
export class TimeoutError extends VoiceSessionError {
  /** The timeout that passed, in milliseconds. */
  readonly timeoutMs: number;

  /** Creates the error for an operation and its timeout. */
  constructor(operation: string, timeoutMs: number) {
    super("timeout", `Timed out: ${operation} got no answer within ${timeoutMs} ms`);
    this.name = "TimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** Audio that does not fit the configured format, or an unsupported audio format. */
export class AudioFormatError extends VoiceSessionError {
  /** Creates the error with what is wrong with the audio. */
  constructor(message: string) {
    super("bad_audio", message);
    this.name = "AudioFormatError";
  }
}

/** A constructor or configuration option is out of range or contradicts another. */
export class ConfigurationError extends VoiceSessionError {
  /** Creates the error with what is wrong with the option. */
  constructor(message: string) {
    super("bad_option", message);
    this.name = "ConfigurationError";
  }
}

/**
 * The gateway sent an `error` message. `code` is the gateway's code: `invalid_message`,
 * `rate_limited`, `upstream_error` (the connection stays), or `message_too_large`,
 * `upstream_unavailable`, `idle_timeout`, `session_expired`, `internal_error`,
 * `server_shutting_down` (the gateway closes the connection next; the close's
 * {@linkcode ConnectionClosedError} has it as `cause`).
 */
export class ServerError extends VoiceSessionError {
  /** Creates the error from the gateway's code and message. */
  constructor(code: string, message: string) {
    super(code, message);
    this.name = "ServerError";
  }
}
