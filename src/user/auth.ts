/**
 * Authentication of the user realtime API's authenticated route: a bearer token from the
 * `Authorization` header or, for browsers (which cannot set handshake headers), from a
 * `bearer.<token>` WebSocket subprotocol offered next to `realtime`. A token is either one of
 * the configured static tokens (constant-time compare) or an HS256 JWT signed with the
 * configured secret, verified with `jose`: `exp` and `sub` required, `nbf` honoured, `iss` and
 * `aud` checked when configured, with a clock tolerance.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { bearerToken, secretsEqual } from "../core/secrets.ts";
import { isUserId, userIdRule } from "./user_id.ts";

/** The subprotocol prefix that carries a token. */
export const BEARER_PROTOCOL_PREFIX = "bearer.";

/** The subprotocol the gateway selects; clients that offer a token must offer it too. */
export const REALTIME_PROTOCOL = "realtime";

/** Who a request was authenticated as. */
export type AuthResult =
  | { readonly ok: true; readonly subject: string; readonly method: "token" | "jwt" }
  | { readonly ok: false; readonly error: string };

/** The credentials a request presented. */
export interface PresentedCredentials {
  readonly token: string | undefined;
  /** Subprotocols the client offered, in order. */
  readonly protocols: readonly string[];
}

/** Reads the bearer token (header first, then subprotocol) and the offered subprotocols. */
export function presentedCredentials(request: Request): PresentedCredentials {
  const protocols = (request.headers.get("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const fromProtocol = protocols.find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX))
    ?.slice(BEARER_PROTOCOL_PREFIX.length);
  return { token: bearerToken(request) ?? (fromProtocol || undefined), protocols };
}

/** Which subprotocol to answer with, or why the offer cannot be served. */
export type ProtocolChoice =
  | { readonly ok: true; readonly protocol: string | undefined }
  | { readonly ok: false; readonly error: string };

/**
 * The subprotocol to answer with: `realtime` when offered. A `bearer.*` protocol carries a
 * secret and is never echoed (it would land in proxy logs and browser devtools); a client that
 * offered only such protocols is refused, since browsers fail a handshake in which none of the
 * offered protocols is selected.
 */
export function selectProtocol(protocols: readonly string[]): ProtocolChoice {
  if (protocols.includes(REALTIME_PROTOCOL)) return { ok: true, protocol: REALTIME_PROTOCOL };
  if (protocols.length > 0 && protocols.every((p) => p.startsWith(BEARER_PROTOCOL_PREFIX))) {
    return {
      ok: false,
      error:
        'Cannot connect: offer the "realtime" subprotocol alongside "bearer.<token>", e.g. new WebSocket(url, ["realtime", "bearer." + token]); the token is never echoed back',
    };
  }
  return { ok: true, protocol: undefined };
}

/** Options of {@linkcode createAuthenticator}. */
export interface AuthenticatorOptions {
  /** Static tokens accepted as they are. */
  readonly tokens: readonly string[];
  /** HS256 secret for JWTs; no JWTs are accepted without it. */
  readonly jwtSecret?: string;
  /** Required `iss` claim, when set. */
  readonly jwtIssuer?: string;
  /** Required `aud` claim (one of the token's audiences), when set. */
  readonly jwtAudience?: string;
  /** Clock skew tolerated on `exp` and `nbf`, seconds (default 0). */
  readonly clockToleranceS?: number;
  /** Longest `sub` accepted (MAX_ID_CHARS). */
  readonly maxIdChars: number;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

/** Checks tokens for the authenticated route. */
export interface Authenticator {
  /** Whether any credential is configured (otherwise every request is refused). */
  readonly enabled: boolean;
  verify(token: string | undefined): Promise<AuthResult>;
}

/** Why jose refused a token, in words that never contain the token. */
function jwtRefusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "JWT has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return `JWT has no "${error.claim}" claim`;
    if (error.claim === "nbf") return "JWT is not valid yet";
    if (error.reason === "invalid") return `JWT "${error.claim}" claim is not valid`;
    return `JWT "${error.claim}" claim does not match`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "JWT alg is not HS256";
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return "JWT signature does not match";
  }
  return "not a valid JWT";
}

/** Builds the token checker from config. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const tokens = [...options.tokens];
  const secret = options.jwtSecret === undefined
    ? undefined
    : new TextEncoder().encode(options.jwtSecret);

  const verifyJwt = async (token: string, key: Uint8Array): Promise<AuthResult> => {
    let subject: unknown;
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ["HS256"],
        requiredClaims: ["exp", "sub"],
        clockTolerance: options.clockToleranceS ?? 0,
        currentDate: new Date(options.now()),
        ...(options.jwtIssuer === undefined ? {} : { issuer: options.jwtIssuer }),
        ...(options.jwtAudience === undefined ? {} : { audience: options.jwtAudience }),
      });
      subject = payload.sub;
    } catch (error) {
      return { ok: false, error: jwtRefusal(error) };
    }
    if (typeof subject !== "string" || !isUserId(subject, options.maxIdChars)) {
      return { ok: false, error: `JWT "sub" must be ${userIdRule(options.maxIdChars)}` };
    }
    return { ok: true, subject, method: "jwt" };
  };

  return {
    enabled: tokens.length > 0 || secret !== undefined,
    async verify(token) {
      if (!token) return { ok: false, error: "no bearer token" };
      // Compare against every static token so timing does not reveal which one matched.
      let matched = false;
      for (const candidate of tokens) matched = secretsEqual(token, candidate) || matched;
      if (matched) return { ok: true, subject: "token", method: "token" };
      if (secret !== undefined && token.split(".").length === 3) {
        return await verifyJwt(token, secret);
      }
      return { ok: false, error: "unknown token" };
    },
  };
}

/** Signs an HS256 JWT (tests and tools that mint tokens for the authenticated route). */
export async function signJwt(payload: Record<string, unknown>, secret: string): Promise<string> {
  return await new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}
