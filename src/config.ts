/**
 * Gateway configuration: environment variables parsed with zod into a typed, frozen object.
 *
 * Every variable is optional; defaults run the gateway offline on the local realtime engine.
 */
import { z } from "zod";
import { AUDIOCODES_FORMATS } from "./audiocodes/media_format.ts";

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
  HOST: z.string().min(1).default("0.0.0.0"),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default(
    "info",
  ),
  AUDIOCODES_BOT_TOKEN: z.string().min(1).optional(),
  REALTIME_API_TOKENS: list.default([]),
  REALTIME_JWT_SECRET: z.string().min(16, "at least 16 characters").optional(),
  REALTIME_OPEN_ROUTE: bool.default(true),
  REALTIME_RATE_LIMIT: int(1, 10_000).default(100),
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
  MAX_FRAME_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
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

/** A configuration result: the config, or one line naming the bad variable. */
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
  const issue = parsed.error.issues[0];
  const name = String(issue?.path[0] ?? "environment");
  const shown = name === "OPENAI_API_KEY" || name.includes("TOKEN") || name.includes("SECRET")
    ? "(hidden)"
    : JSON.stringify(cleaned[name] ?? "");
  return {
    ok: false,
    error: `Invalid configuration: ${name}=${shown}: expected ${describe(issue?.message)}`,
  };
}

function describe(message: string | undefined): string {
  if (!message) return "a valid value";
  return message.replace(/^Invalid input: expected /, "").replace(/^Invalid option: expected /, "");
}

/** Whether the gateway runs on its built-in local realtime engine (no OpenAI key). */
export function usesLocalEngine(config: Config): boolean {
  return config.OPENAI_API_KEY === undefined;
}
