/**
 * Gateway configuration: environment variables parsed with zod into a typed, frozen object.
 *
 * Every variable is optional; defaults run the gateway offline on the local realtime engine.
 */
import { z } from "zod";
import { AUDIOCODES_FORMATS } from "./protocol/media_format.ts";

const bool = z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"]).transform((v) =>
  ["true", "1", "yes", "on"].includes(v)
);
const int = (min: number, max: number) =>
  z.string().regex(/^\d+$/, "a whole number").transform(Number).pipe(z.number().min(min).max(max));
const num = (min: number, max: number) =>
  z.string().regex(/^\d+(\.\d+)?$/, "a number").transform(Number).pipe(
    z.number().min(min).max(max),
  );
const list = z.string().transform((v) =>
  v.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
);
const url = (protocols: string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `a URL with scheme ${protocols.map((p) => p.replace(":", "")).join(" or ")}`);

const formatList = list.pipe(
  z.array(z.enum(AUDIOCODES_FORMATS)).min(1, "at least one media format"),
);

/** The environment variables the gateway reads, each with its default. */
export const Env = z.object({
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_REALTIME_MODEL: z.string().min(1).default("gpt-realtime"),
  OPENAI_REALTIME_URL: url(["wss:", "ws:"]).default("wss://api.openai.com/v1/realtime"),
  PORT: int(0, 65535).default(8000),
  /** Unset: 0.0.0.0 offline; with a real key still 0.0.0.0 but a warning says so. */
  HOST: z.string().min(1).default("0.0.0.0"),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default(
    "info",
  ),
  /** Caller and bot transcripts in the call summary (never DTMF digits at info). */
  LOG_TRANSCRIPTS: bool.default(false),
  /** Longest string value written into a log line; longer ones are cut with a marker. */
  LOG_VALUE_MAX_CHARS: int(16, 65_536).default(200),
  /** Log lines one socket may write per second (burst: 2 s worth); the rest are counted. */
  LOG_LINES_PER_SOCKET: int(1, 10_000).default(10),
  AUDIOCODES_BOT_TOKEN: z.string().min(1).optional(),
  /** With a real key, start without AUDIOCODES_BOT_TOKEN anyway (not recommended). */
  ALLOW_UNAUTHENTICATED_BOT: bool.default(false),
  REALTIME_API_TOKENS: list.default([]),
  REALTIME_JWT_SECRET: z.string().min(16, "at least 16 characters").optional(),
  /** Required `iss` claim of JWTs, when set. */
  REALTIME_JWT_ISSUER: z.string().min(1).optional(),
  /** Required `aud` claim of JWTs, when set. */
  REALTIME_JWT_AUDIENCE: z.string().min(1).optional(),
  /** Clock skew tolerated on `exp`/`nbf`, seconds. */
  REALTIME_JWT_CLOCK_TOLERANCE_S: int(0, 3600).default(30),
  /** The open `{user_id}` route; unset → on offline, off with a real key. */
  REALTIME_OPEN_ROUTE: bool.optional(),
  REALTIME_RATE_LIMIT: int(1, 10_000).default(100),
  /** Browser `Origin`s allowed on the app routes and page (empty: any). */
  ALLOWED_ORIGINS: list.default([]),
  /** Take the peer address from the last `X-Forwarded-For` hop (behind a reverse proxy). */
  TRUST_PROXY: bool.default(false),
  VOICE: z.string().min(1).default("marin"),
  INSTRUCTIONS: z.string().default(
    "You are a friendly, concise voice assistant on a phone call. Keep answers short, ask one question at a time.",
  ),
  GREETING: bool.default(true),
  GREETING_INSTRUCTIONS: z.string().default(
    "Greet the caller briefly and ask how you can help.",
  ),
  MEDIA_FORMATS: formatList.default([
    "raw/lpcm16_24",
    "raw/mulaw",
    "raw/alaw",
    "raw/lpcm16",
    "raw/lpcm16_8",
  ]),
  PLAYOUT_LEAD_MS: int(20, 5000).default(200),
  RESUME_GRACE_MS: int(0, 600_000).default(30_000),
  /**
   * The shared call registry (`redis://` or `rediss://`): many instances, a call resumes on any
   * of them. Unset: one instance, calls in memory.
   */
  REDIS_URL: url(["redis:", "rediss:"]).optional(),
  /** Owner lease of a call in the shared registry: a dead instance's calls resume after it. */
  CLUSTER_LEASE_TTL_MS: int(300, 600_000).default(5000),
  /** How long a resume waits for a live owner's lease to lapse (unset: lease TTL + 1 s). */
  CLUSTER_RESUME_WAIT_MS: int(0, 600_000).optional(),
  /** Live phone calls across every instance (the heartbeat's sum); unset: no cluster cap. */
  CLUSTER_MAX_CALLS: int(1, 10_000_000).optional(),
  MAX_FRAME_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  /** Longest `conversationId`, participant, user id or other identifier accepted. */
  MAX_ID_CHARS: int(8, 4096).default(128),
  /** Live phone calls (and `/ws` sockets not yet carrying one) per instance; over → 503. */
  MAX_CALLS: int(1, 100_000).default(1000),
  /** Live app sessions per instance; over → 503. */
  MAX_APP_SESSIONS: int(1, 100_000).default(1000),
  /** Live app sessions per user id. */
  MAX_SESSIONS_PER_USER: int(1, 10_000).default(5),
  /** Live app WebSockets per peer address (the phone route is capped by MAX_CALLS only). */
  MAX_CONNECTIONS_PER_PEER: int(1, 100_000).default(50),
  /** A `/ws` socket must send its first message within this time. */
  FIRST_MESSAGE_TIMEOUT_MS: int(100, 600_000).default(10_000),
  /** Messages per second one `/ws` socket may send (burst: 1 s worth); the rest are dropped. */
  AUDIOCODES_RATE_LIMIT: int(10, 100_000).default(250),
  /** Call events (activities, bot actions) kept per call, newest first. */
  MAX_CALL_EVENTS: int(8, 100_000).default(200),
  /** DTMF digits collected before they are sent (collect mode). */
  MAX_DTMF_DIGITS: int(1, 1024).default(32),
  /** Longest user text (app text input) in characters. */
  MAX_TEXT_CHARS: int(1, 1_000_000).default(4096),
  /** Replay history kept per call for an upstream reconnect: turns and characters. */
  MAX_HISTORY_TURNS: int(1, 10_000).default(50),
  MAX_HISTORY_CHARS: int(100, 10_000_000).default(32_000),
  /** Longest phone call; the bot hangs up at this point. */
  MAX_CALL_MS: int(1000, 24 * 3600 * 1000).default(4 * 3600 * 1000),
  /** App session: closed after this long without a client message, and at most this long. */
  APP_IDLE_TIMEOUT_MS: int(1000, 24 * 3600 * 1000).default(5 * 60 * 1000),
  APP_MAX_SESSION_MS: int(1000, 24 * 3600 * 1000).default(4 * 3600 * 1000),
  /** How long the Bridge keeps retrying a lost upstream (backoff with jitter) before it gives up. */
  UPSTREAM_RECONNECT_MS: int(0, 600_000).default(5000),
  /**
   * The upstream WebSocket client: `ws` (npm; sets TCP_NODELAY) or Deno's `native` one, which
   * clears TCP_NODELAY in 2.9 (README, Performance). Switch back once Deno ships a `noDelay`
   * option (denoland/deno#35581).
   */
  UPSTREAM_CLIENT: z.enum(["ws", "native"]).default("ws"),
  /** Warm upstream sessions kept open and configured for new calls (0: none; README, Performance). */
  UPSTREAM_POOL_SIZE: int(0, 1000).default(0),
  /** Opening the upstream (TCP, TLS, WebSocket) must finish within this time. */
  UPSTREAM_CONNECT_TIMEOUT_MS: int(100, 120_000).default(10_000),
  /** PEM files: serve `https://`/`wss://` in-process (both or neither; a proxy is preferred). */
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  /** Agent profiles (JSON or YAML): per-bot instructions, voice, greeting, tools, limits. */
  AGENTS_FILE: z.string().min(1).optional(),
  /** How often the agents file is checked for changes. */
  AGENTS_RELOAD_MS: int(100, 3_600_000).default(2000),
  /** A tool call (HTTP, MCP or app) that has not answered in this time becomes an error. */
  TOOL_TIMEOUT_MS: int(100, 300_000).default(8000),
  /** A tool still running after this long makes the bot say a short filler, once. */
  TOOL_FILLER_MS: int(0, 60_000).default(1500),
  /** `false` turns metrics off: nothing is recorded and `GET /metrics` is 404. */
  METRICS_ENABLED: bool.default(true),
  /** When set, `GET /metrics` requires `Authorization: Bearer <token>`. */
  METRICS_TOKEN: z.string().min(1).optional(),
  /** On SIGTERM/SIGINT, live calls may finish for this long before they are hung up. */
  DRAIN_TIMEOUT_MS: int(0, 3600 * 1000).default(25_000),
  TURN_DETECTION: z.enum(["server_vad", "semantic_vad", "off"]).default("server_vad"),
  VAD_THRESHOLD: num(0, 1).default(0.5),
  VAD_PREFIX_PADDING_MS: int(0, 5000).default(300),
  VAD_SILENCE_MS: int(0, 10_000).default(500),
  INPUT_TRANSCRIPTION_MODEL: z.string().default("gpt-4o-mini-transcribe"),
  DTMF_MODE: z.enum(["digit", "collect"]).default("digit"),
  DTMF_TIMEOUT_MS: int(100, 60_000).default(3000),
  TRANSFER_TARGETS: list.default([]),
  ENGINE_MAX_SESSION_MS: int(1000, 24 * 3600 * 1000).default(3600 * 1000),
});

/** The parsed, typed configuration. */
export type Config = Readonly<z.infer<typeof Env>>;

/** A configuration result: the config, or one line per bad variable. */
export type ConfigResult = { ok: true; config: Config } | { ok: false; error: string };

/**
 * Parses environment variables into a frozen {@linkcode Config}.
 *
 * Empty strings count as unset, so `.env.example` lines like `OPENAI_API_KEY=` keep the default.
 */
export function loadConfig(env: Record<string, string | undefined>): ConfigResult {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(Env.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== "") cleaned[key] = value.trim();
  }
  const parsed = Env.safeParse(cleaned);
  if (parsed.success) return { ok: true, config: Object.freeze(parsed.data) };
  // Every bad variable at once, one line each, so one edit fixes them all.
  const lines = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "environment");
    const shown = isSecret(name) ? "(hidden)" : JSON.stringify(cleaned[name] ?? "");
    return `Invalid configuration: ${name}=${shown}: expected ${describe(issue.message)}`;
  });
  return { ok: false, error: [...new Set(lines)].join("\n") };
}

/** Whether a variable holds a secret (its value is never printed). */
export function isSecret(name: string): boolean {
  // REDIS_URL may carry a password (redis://:secret@host).
  return name === "OPENAI_API_KEY" || name === "REDIS_URL" || name.includes("TOKEN") ||
    name.includes("SECRET");
}

function describe(message: string | undefined): string {
  if (!message) return "a valid value";
  return message.replace(/^Invalid input: expected /, "").replace(/^Invalid option: expected /, "");
}

/** Whether the gateway runs on its built-in local realtime engine (no OpenAI key). */
export function usesLocalEngine(config: Config): boolean {
  return config.OPENAI_API_KEY === undefined;
}

/** Whether the open `{user_id}` app route is served: on offline, off with a real key, unless set. */
export function openRouteEnabled(config: Config): boolean {
  return config.REALTIME_OPEN_ROUTE ?? usesLocalEngine(config);
}

/**
 * What a real key changes at start-up: refusals stop the process, warnings are logged. Offline
 * (no key) stays zero-config and returns nothing.
 */
export function securityCheck(config: Config): { refusals: string[]; warnings: string[] } {
  const refusals: string[] = [];
  const warnings: string[] = [];
  if (usesLocalEngine(config)) return { refusals, warnings };
  if (config.AUDIOCODES_BOT_TOKEN === undefined) {
    if (config.ALLOW_UNAUTHENTICATED_BOT) {
      warnings.push(
        "AUDIOCODES_BOT_TOKEN is unset: anyone who reaches /ws can place calls on your OpenAI key",
      );
    } else {
      refusals.push(
        "Cannot start: OPENAI_API_KEY is set but AUDIOCODES_BOT_TOKEN is not, so anyone who reaches /ws could place calls on your key. Set AUDIOCODES_BOT_TOKEN (and the same token in VAIC), or ALLOW_UNAUTHENTICATED_BOT=true to run without one",
      );
    }
  }
  if (openRouteEnabled(config)) {
    warnings.push(
      "REALTIME_OPEN_ROUTE is on with a real key: anyone who reaches /api/v1/streaming/realtime/{user_id} can talk to the model on your key",
    );
  }
  if (config.HOST === "0.0.0.0" || config.HOST === "::") {
    warnings.push(
      `HOST=${config.HOST} listens on every interface; put TLS and a reverse proxy in front (see README, Security)`,
    );
  }
  return { refusals, warnings };
}
