/**
 * What the engine reads from an upgrade request (§1.1–1.3 of the protocol reference): the key
 * (Bearer header or `openai-insecure-api-key.<key>` subprotocol), the `model` query parameter and
 * whether the client asked for the retired beta shape.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** The parts of an upgrade request the engine acts on. */
export interface Handshake {
  readonly apiKey: string | undefined;
  readonly model: string | undefined;
  /** `OpenAI-Beta: realtime=v1` header or `openai-beta.realtime-v1` subprotocol. */
  readonly beta: boolean;
  /** Whether the client offered the `realtime` subprotocol (the answer must then name it). */
  readonly offeredRealtime: boolean;
}

const KEY_PROTOCOL = "openai-insecure-api-key.";

// The gateway's server.ts has the same two helpers; they are repeated here so the standalone
// engine does not load the gateway (and pino, which needs --allow-sys) just to check a key.

/** Compares two secrets in constant time (hashing first makes the lengths equal). */
export function keysEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

function bearerToken(request: Request): string | undefined {
  const match = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i);
  return match?.[1]?.trim();
}

/** Reads the handshake; never throws. */
export function readHandshake(request: Request): Handshake {
  const protocols = (request.headers.get("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  const fromProtocol = protocols.find((p) => p.startsWith(KEY_PROTOCOL))?.slice(
    KEY_PROTOCOL.length,
  );
  const betaHeader = (request.headers.get("openai-beta") ?? "").toLowerCase();
  const model = new URL(request.url).searchParams.get("model");
  return {
    apiKey: bearerToken(request) ?? (fromProtocol || undefined),
    model: model === null || model === "" ? undefined : model,
    beta: betaHeader.includes("realtime=v1") || protocols.includes("openai-beta.realtime-v1"),
    offeredRealtime: protocols.includes("realtime"),
  };
}
