/**
 * What the engine reads from an upgrade request (§1.1–1.3 of the protocol reference): the key
 * (Bearer header or `openai-insecure-api-key.<key>` subprotocol), the `model` query parameter and
 * whether the client asked for the retired beta shape.
 */
import { bearerToken } from "../core/secrets.ts";

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
