/**
 * Authentication of the user realtime API's authenticated route: a bearer token from the
 * `Authorization` header or, for browsers (which cannot set handshake headers), from a
 * `bearer.<token>` WebSocket subprotocol. A token is either one of the configured static tokens
 * (constant-time compare) or an HS256 JWT signed with the configured secret, checked with
 * WebCrypto; `exp` and `nbf` are honoured.
 */
import { bearerToken, secretsEqual } from "../server.ts";

/** The subprotocol prefix that carries a token. */
export const BEARER_PROTOCOL_PREFIX = "bearer.";

/** The subprotocol the gateway selects when a client offers it. */
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

/**
 * The subprotocol to answer with: `realtime` when offered, else the offered `bearer.*` one
 * (browsers fail the handshake when they offered protocols and none is selected).
 */
export function selectProtocol(protocols: readonly string[]): string | undefined {
  if (protocols.includes(REALTIME_PROTOCOL)) return REALTIME_PROTOCOL;
  return protocols.find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
}

/** Options of {@linkcode createAuthenticator}. */
export interface AuthenticatorOptions {
  /** Static tokens accepted as they are. */
  readonly tokens: readonly string[];
  /** HS256 secret for JWTs; no JWTs are accepted without it. */
  readonly jwtSecret?: string;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

/** Checks tokens for the authenticated route. */
export interface Authenticator {
  /** Whether any credential is configured (otherwise every request is refused). */
  readonly enabled: boolean;
  verify(token: string | undefined): Promise<AuthResult>;
}

const decoder = new TextDecoder();

function base64UrlBytes(part: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) return undefined;
  try {
    return Uint8Array.fromBase64(part, { alphabet: "base64url" });
  } catch {
    return undefined;
  }
}

function jsonObject(bytes: Uint8Array | undefined): Record<string, unknown> | undefined {
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(decoder.decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value))
      : undefined;
  } catch {
    return undefined;
  }
}

/** Builds the token checker from config. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const tokens = [...options.tokens];
  const secret = options.jwtSecret;
  let key: Promise<CryptoKey> | undefined;
  const hmacKey = (): Promise<CryptoKey> =>
    key ??= crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );

  const verifyJwt = async (token: string): Promise<AuthResult> => {
    const parts = token.split(".");
    if (parts.length !== 3) return { ok: false, error: "not a JWT" };
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = jsonObject(base64UrlBytes(headerPart));
    if (!header || header.alg !== "HS256") return { ok: false, error: "JWT alg is not HS256" };
    const signature = base64UrlBytes(signaturePart);
    if (!signature) return { ok: false, error: "JWT signature is not base64url" };
    const valid = await crypto.subtle.verify(
      "HMAC",
      await hmacKey(),
      signature,
      new TextEncoder().encode(`${headerPart}.${payloadPart}`),
    );
    if (!valid) return { ok: false, error: "JWT signature does not match" };
    const payload = jsonObject(base64UrlBytes(payloadPart));
    if (!payload) return { ok: false, error: "JWT payload is not a JSON object" };
    const nowSeconds = options.now() / 1000;
    if (payload.exp !== undefined) {
      if (typeof payload.exp !== "number") return { ok: false, error: "JWT exp is not a number" };
      if (nowSeconds >= payload.exp) return { ok: false, error: "JWT has expired" };
    }
    if (payload.nbf !== undefined) {
      if (typeof payload.nbf !== "number") return { ok: false, error: "JWT nbf is not a number" };
      if (nowSeconds < payload.nbf) return { ok: false, error: "JWT is not valid yet" };
    }
    const subject = typeof payload.sub === "string" && payload.sub ? payload.sub : "jwt";
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
      if (secret !== undefined && token.split(".").length === 3) return await verifyJwt(token);
      return { ok: false, error: "unknown token" };
    },
  };
}

/** Signs an HS256 JWT (tests and tools that mint tokens for the authenticated route). */
export async function signJwt(payload: Record<string, unknown>, secret: string): Promise<string> {
  const encode = (value: unknown): string =>
    new TextEncoder().encode(JSON.stringify(value)).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    });
  const data = `${encode({ alg: "HS256", typ: "JWT" })}.${encode(payload)}`;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data)),
  );
  return `${data}.${signature.toBase64({ alphabet: "base64url", omitPadding: true })}`;
}
