/**
 * Agent profiles (`AGENTS_FILE`, JSON or YAML): which bot a call or app session gets — its
 * instructions, voice, greeting, turn detection, transcription, tools and limits — matched by
 * VAIC bot name, callee, caller, route or user id. The environment variables of old are the
 * default profile, used when no profile matches.
 */
import { z } from "zod";
import { parse as parseYaml } from "yaml";
import type { Config } from "../config.ts";
import type { FunctionTool } from "../realtime/session_config.ts";
import { turnDetectionFromConfig } from "../realtime/session_config.ts";

const toolName = z.string().regex(
  /^[A-Za-z0-9_-]{1,64}$/,
  "1-64 letters, digits, '_' or '-'",
);
const httpUrl = z.string().refine((v) => {
  try {
    return ["http:", "https:"].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, "an http or https URL");
const pattern = z.string().max(512).refine((v) => {
  try {
    new RegExp(v);
    return true;
  } catch {
    return false;
  }
}, "a valid regular expression");
const headers = z.record(z.string(), z.string()).default({});

/** A tool the gateway calls over HTTP for the model. */
export const HttpTool = z.object({
  type: z.literal("http").default("http"),
  name: toolName,
  description: z.string().min(1).max(2048),
  /** JSON schema of the arguments (an object schema). */
  parameters: z.record(z.string(), z.unknown()).default({ type: "object", properties: {} }),
  url: httpUrl,
  method: z.enum(["POST", "PUT", "PATCH", "GET"]).default("POST"),
  /** Values may reference the environment as `${NAME}` (secrets stay out of the file). */
  headers,
  timeoutMs: z.number().int().min(50).max(120_000).optional(),
}).strict();
/** A tool the gateway calls over HTTP for the model. */
export type HttpTool = z.infer<typeof HttpTool>;

/** An MCP server (streamable HTTP) whose tools the model may call through the gateway. */
export const McpServerSpec = z.object({
  name: toolName,
  url: httpUrl,
  headers,
  /** Only these of the server's tools (default: all). */
  allowedTools: z.array(z.string()).optional(),
  timeoutMs: z.number().int().min(50).max(120_000).optional(),
}).strict();
/** An MCP server (streamable HTTP) whose tools the model may call through the gateway. */
export type McpServerSpec = z.infer<typeof McpServerSpec>;

const Match = z.object({
  /** VAIC `botName` (case-insensitive). */
  botName: z.string().min(1).optional(),
  /** The callee of the `start` activity, exactly. */
  callee: z.string().min(1).optional(),
  /** A regular expression the caller must match. */
  caller: pattern.optional(),
  /** `phone` (VAIC) or `app` (user API). */
  route: z.enum(["phone", "app"]).optional(),
  /** A regular expression the app user id (route `user_id` or JWT `sub`) must match. */
  userId: pattern.optional(),
}).strict();

/** One profile as written in the file. */
export const ProfileSpec = z.object({
  name: z.string().min(1).max(64),
  match: Match.default({}),
  instructions: z.string().max(100_000).optional(),
  voice: z.string().min(1).optional(),
  /** `false`: the caller speaks first; a string: what the greeting should say. */
  greeting: z.union([z.boolean(), z.string().min(1)]).optional(),
  turnDetection: z.enum(["server_vad", "semantic_vad", "off"]).optional(),
  vad: z.object({
    threshold: z.number().min(0).max(1),
    prefixPaddingMs: z.number().int().min(0).max(5000),
    silenceMs: z.number().int().min(0).max(10_000),
  }).partial().strict().optional(),
  /** An input transcription model, or `off`. */
  transcription: z.string().min(1).optional(),
  tools: z.array(HttpTool).max(64).default([]),
  mcpServers: z.array(McpServerSpec).max(16).default([]),
  transferTargets: z.array(z.string().min(1)).optional(),
  /** Longest call of this profile (phone; app sessions keep APP_MAX_SESSION_MS). */
  maxCallMs: z.number().int().min(1000).max(24 * 3600 * 1000).optional(),
  /** Hang up after this long without caller speech (phone). */
  idleHangupMs: z.number().int().min(1000).max(24 * 3600 * 1000).optional(),
}).strict();
/** One profile as written in the file. */
export type ProfileSpec = z.infer<typeof ProfileSpec>;

/** The agents file. */
export const AgentsFile = z.object({
  profiles: z.array(ProfileSpec).min(1).max(256),
}).strict().superRefine((file, ctx) => {
  const seen = new Set<string>();
  file.profiles.forEach((profile, i) => {
    if (seen.has(profile.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["profiles", i, "name"],
        message: `a unique name ("${profile.name}" is used twice)`,
      });
    }
    seen.add(profile.name);
  });
});
/** The agents file. */
export type AgentsFile = z.infer<typeof AgentsFile>;

/** A profile with every setting resolved (file values over the environment's defaults). */
export interface AgentProfile {
  readonly name: string;
  readonly match: {
    readonly botName?: string;
    readonly callee?: string;
    readonly caller?: RegExp;
    readonly route?: "phone" | "app";
    readonly userId?: RegExp;
  };
  /** May hold `{caller}`, `{callee}` … placeholders. */
  readonly instructions: string;
  readonly voice: string;
  readonly greeting: boolean;
  readonly greetingInstructions: string;
  readonly turnDetection: Record<string, unknown> | null;
  readonly transcriptionModel: string | null;
  readonly tools: readonly HttpTool[];
  readonly mcpServers: readonly McpServerSpec[];
  readonly transferTargets: readonly string[];
  readonly maxCallMs: number | undefined;
  readonly idleHangupMs: number | undefined;
}

/** What a call or session is matched on. */
export interface MatchInput {
  readonly route: "phone" | "app";
  readonly botName?: string | undefined;
  readonly callee?: string | undefined;
  readonly caller?: string | undefined;
  readonly userId?: string | undefined;
}

/** The environment's settings as a profile (the default). */
export function defaultProfile(config: Config): AgentProfile {
  const transcription = config.INPUT_TRANSCRIPTION_MODEL;
  return {
    name: "default",
    match: {},
    instructions: config.INSTRUCTIONS,
    voice: config.VOICE,
    greeting: config.GREETING,
    greetingInstructions: config.GREETING_INSTRUCTIONS,
    turnDetection: turnDetectionFromConfig(config),
    transcriptionModel: transcription === "off" || transcription === "" ? null : transcription,
    tools: [],
    mcpServers: [],
    transferTargets: config.TRANSFER_TARGETS,
    maxCallMs: undefined,
    idleHangupMs: undefined,
  };
}

/** Resolves a profile of the file against the environment's defaults. */
export function resolveProfile(spec: ProfileSpec, config: Config): AgentProfile {
  const base = defaultProfile(config);
  const detection = turnDetectionFromConfig({
    ...config,
    TURN_DETECTION: spec.turnDetection ?? config.TURN_DETECTION,
    VAD_THRESHOLD: spec.vad?.threshold ?? config.VAD_THRESHOLD,
    VAD_PREFIX_PADDING_MS: spec.vad?.prefixPaddingMs ?? config.VAD_PREFIX_PADDING_MS,
    VAD_SILENCE_MS: spec.vad?.silenceMs ?? config.VAD_SILENCE_MS,
  });
  const m = spec.match;
  return {
    name: spec.name,
    match: {
      ...(m.botName === undefined ? {} : { botName: m.botName.toLowerCase() }),
      ...(m.callee === undefined ? {} : { callee: m.callee }),
      ...(m.caller === undefined ? {} : { caller: new RegExp(m.caller) }),
      ...(m.route === undefined ? {} : { route: m.route }),
      ...(m.userId === undefined ? {} : { userId: new RegExp(m.userId) }),
    },
    instructions: spec.instructions ?? base.instructions,
    voice: spec.voice ?? base.voice,
    greeting: spec.greeting === undefined ? base.greeting : spec.greeting !== false,
    greetingInstructions: typeof spec.greeting === "string"
      ? spec.greeting
      : base.greetingInstructions,
    turnDetection: detection,
    transcriptionModel: spec.transcription === undefined
      ? base.transcriptionModel
      : spec.transcription === "off"
      ? null
      : spec.transcription,
    tools: spec.tools,
    mcpServers: spec.mcpServers,
    transferTargets: spec.transferTargets ?? base.transferTargets,
    maxCallMs: spec.maxCallMs,
    idleHangupMs: spec.idleHangupMs,
  };
}

/** Whether `profile` matches: every criterion it names holds. */
export function matches(profile: AgentProfile, input: MatchInput): boolean {
  const m = profile.match;
  if (m.route !== undefined && m.route !== input.route) return false;
  if (m.botName !== undefined && m.botName !== input.botName?.toLowerCase()) return false;
  if (m.callee !== undefined && m.callee !== input.callee) return false;
  if (m.caller !== undefined && (input.caller === undefined || !m.caller.test(input.caller))) {
    return false;
  }
  if (m.userId !== undefined && (input.userId === undefined || !m.userId.test(input.userId))) {
    return false;
  }
  return true;
}

/** A set of profiles and the default. */
export interface ProfileSet {
  readonly profiles: readonly AgentProfile[];
  readonly fallback: AgentProfile;
  /** The first profile that matches, else the default. */
  match(input: MatchInput): AgentProfile;
}

/** A profile set from resolved profiles. */
export function profileSet(profiles: readonly AgentProfile[], fallback: AgentProfile): ProfileSet {
  return {
    profiles,
    fallback,
    match: (input) => profiles.find((p) => matches(p, input)) ?? fallback,
  };
}

/** Parsing an agents file: the set, or one line per problem naming the field's path. */
export type ProfilesResult =
  | { readonly ok: true; readonly set: ProfileSet }
  | { readonly ok: false; readonly error: string };

/**
 * Parses the text of an agents file (`.yaml`/`.yml` as YAML, anything else as JSON), validates
 * it, fills `${NAME}` references in tool headers from `env` and resolves every profile.
 */
export function parseAgentsFile(
  text: string,
  options: { path: string; config: Config; env: (name: string) => string | undefined },
): ProfilesResult {
  const where = `Invalid agents file ${options.path}`;
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(options.path) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { ok: false, error: `${where}: cannot parse: ${message}` };
  }
  const parsed = AgentsFile.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) =>
      `${where}: ${pathOf(issue.path)}: expected ${
        issue.message.replace(/^Invalid input: expected /, "")
      }`
    );
    return { ok: false, error: [...new Set(lines)].join("\n") };
  }
  const problems: string[] = [];
  const fill = (value: string, path: string): string =>
    value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = options.env(name);
      if (found === undefined) {
        problems.push(`${where}: ${path}: environment variable ${name} is not set`);
        return "";
      }
      return found;
    });
  const profiles = parsed.data.profiles.map((spec, i) => {
    const withSecrets: ProfileSpec = {
      ...spec,
      tools: spec.tools.map((tool, t) => ({
        ...tool,
        headers: Object.fromEntries(
          Object.entries(tool.headers).map(([k, v]) => [
            k,
            fill(v, `profiles[${i}].tools[${t}].headers.${k}`),
          ]),
        ),
      })),
      mcpServers: spec.mcpServers.map((server, s) => ({
        ...server,
        headers: Object.fromEntries(
          Object.entries(server.headers).map(([k, v]) => [
            k,
            fill(v, `profiles[${i}].mcpServers[${s}].headers.${k}`),
          ]),
        ),
      })),
    };
    return resolveProfile(withSecrets, options.config);
  });
  if (problems.length > 0) return { ok: false, error: problems.join("\n") };
  return { ok: true, set: profileSet(profiles, defaultProfile(options.config)) };
}

function pathOf(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    out += typeof part === "number" ? `[${part}]` : `${out ? "." : ""}${String(part)}`;
  }
  return out || "(file)";
}

/** The function definitions of a profile's HTTP tools. */
export function httpToolDefinitions(profile: AgentProfile): FunctionTool[] {
  return profile.tools.map((tool) => ({
    type: "function",
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters,
  }));
}
