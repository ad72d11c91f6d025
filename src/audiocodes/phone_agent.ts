/**
 * The phone side of a Bridge: an AudioCodes call. Caller audio goes upstream (untouched when
 * the formats meet, resampled otherwise); model audio comes back as paced play streams;
 * speech and transcripts become `userStream.speech.*`; the greeting and the profile chosen at
 * call start are handled here, DTMF in `dtmf.ts`, the tools, hangup and transfer in
 * `call_tools.ts`.
 */
import type { Config } from "../config.ts";
import type { Clock } from "../core/clock.ts";
import type { GatewayMetrics } from "../core/metrics.ts";
import type { ResamplerFactory } from "../audio/resampler.ts";
import { bytesOf } from "../audio/pcm.ts";
import type { BridgeLeg, LegEvent } from "../bridge/bridge.ts";
import { Bridge } from "../bridge/bridge.ts";
import { bridgeConfig } from "../bridge/from_config.ts";
import type { Interrupted } from "../bridge/playout.ts";
import { Playout } from "../bridge/playout.ts";
import { Transcoder } from "../bridge/transcode.ts";
import type { WarmSource } from "../realtime/upstream_pool.ts";
import type { FunctionTool, SessionOptions } from "../realtime/session_config.ts";
import { fillTemplate } from "../realtime/session_config.ts";
import type { AgentFactory, CallAgent, CallHandle } from "./conversation.ts";
import type { AgentSnapshot } from "../cluster/call_record.ts";
import type { AgentProfile, ProfileSet } from "../agents/profile.ts";
import { defaultProfile, profileSet } from "../agents/profile.ts";
import type { McpPool, ToolBox } from "../agents/tools.ts";
import { ToolRuns } from "../agents/tool_runs.ts";
import { clip } from "../core/bounded_log.ts";
import { eventName } from "./handlers.ts";
import type { Activity } from "../protocol/audiocodes.ts";
import { base64ByteLength } from "../protocol/base64.ts";
import { CallTools, phoneToolbox, phoneTools } from "./call_tools.ts";
import { DtmfCollector } from "./dtmf.ts";
import { phoneLegMessage } from "./leg_messages.ts";
import { CallMeter } from "./call_meter.ts";
import type { FormatPlan } from "../protocol/media_format.ts";
import { formatPlan } from "../protocol/media_format.ts";

/** What phone agents are built from. */
export interface PhoneAgentDeps {
  readonly config: Config;
  /** The upstream endpoint (the local engine's URL is known only once the server listens). */
  readonly upstreamUrl: () => string;
  readonly resamplers: ResamplerFactory;
  /** Unused by the agent itself: each call runs on its own guarded clock (`CallHandle.clock`). */
  readonly clock: Clock;
  readonly metrics?: GatewayMetrics;
  /** Warm upstream sessions (UPSTREAM_POOL_SIZE): a call takes one instead of connecting. */
  readonly pool?: WarmSource;
  /** The agent profiles in force (default: the environment's settings only). */
  readonly profiles?: () => ProfileSet;
  /** MCP clients shared by every call. */
  readonly mcp?: McpPool;
}

export { phoneTools };

/** Builds a Bridge-backed agent for each call. */
export function phoneAgents(deps: PhoneAgentDeps): AgentFactory {
  const fallback = profileSet([], defaultProfile(deps.config));
  const profiles = deps.profiles ?? (() => fallback);
  // The gateway's own tools, built once per profile and shared by its calls (read-only).
  const own = new WeakMap<AgentProfile, readonly FunctionTool[]>();
  const ownTools = (profile: AgentProfile): readonly FunctionTool[] => {
    let tools = own.get(profile);
    if (!tools) own.set(profile, tools = phoneTools(profile.transferTargets));
    return tools;
  };
  return (call) => new PhoneAgent(call, { ...deps, profiles }, ownTools);
}

const PHONE = { route: "audiocodes" } as const;
const TO_CALLER = { direction: "model_to_caller" } as const;
const AUDIO_OUT = { route: "audiocodes", direction: "out" } as const;

/** Milliseconds of model audio per play-stream chunk: whole samples, whole base64 quads. */
const PIECE_MS = { pcm16: 20, mulaw: 30, alaw: 30 } as const;

class PhoneAgent implements CallAgent, BridgeLeg {
  readonly #call: CallHandle;
  readonly #config: Config;
  readonly #clock: Clock;
  readonly #plan: FormatPlan;
  readonly #upstreamBytesPerMs: number;
  readonly #pieceChars: number;
  readonly #pieceSamples: number;
  readonly #transcoder: Transcoder | undefined;
  readonly #playout: Playout;
  readonly #bridge: Bridge;
  #streams = 0;
  #streamId = "";
  #started = false;
  #detached = false;
  #instructions: string;
  #profile: AgentProfile;
  #toolbox: ToolBox;
  readonly #runs: ToolRuns;
  readonly #tools: CallTools;
  readonly #dtmf: DtmfCollector;
  readonly #ownTools: (profile: AgentProfile) => readonly FunctionTool[];
  readonly #deps: PhoneAgentDeps & { readonly profiles: () => ProfileSet };
  #callerSpeaking = false;
  /** After close, whatever still arrives (queued upstream events, timers) is ignored. */
  #closed = false;
  readonly #metrics: GatewayMetrics | undefined;
  /** The call's turns, first connection and metrics. */
  readonly #meter: CallMeter;

  constructor(
    call: CallHandle,
    deps: PhoneAgentDeps & { readonly profiles: () => ProfileSet },
    ownTools: (profile: AgentProfile) => readonly FunctionTool[],
  ) {
    this.#call = call;
    this.#config = deps.config;
    this.#deps = deps;
    this.#ownTools = ownTools;
    this.#profile = deps.profiles().match({
      route: "phone",
      botName: call.botName,
      caller: call.caller,
    });
    this.#toolbox = this.#newToolbox(this.#profile);
    // The call's clock: a throwing timer callback ends this call, not the process.
    this.#clock = call.clock;
    this.#metrics = deps.metrics;
    this.#meter = new CallMeter({
      trace: call.trace,
      clock: this.#clock,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    });
    this.#plan = formatPlan(call.mediaFormat);
    this.#upstreamBytesPerMs = this.#plan.upstream.type === "audio/pcm" ? 48 : 8;
    const pieceBytes = PIECE_MS[this.#plan.codec] * this.#plan.bytesPerMs;
    this.#pieceChars = (pieceBytes / 3) * 4;
    this.#pieceSamples = PIECE_MS.pcm16 * (this.#plan.sampleRate / 1000);
    this.#transcoder = this.#plan.passThrough
      ? undefined
      : new Transcoder(deps.resamplers, this.#plan.sampleRate);
    this.#playout = new Playout({
      clock: this.#clock,
      leadMs: deps.config.PLAYOUT_LEAD_MS,
      sink: {
        start: () => {
          this.#meter.playStarted();
          this.#streamId = `play-${this.#streams++}`;
          this.#call.send({
            type: "playStream.start",
            streamId: this.#streamId,
            mediaFormat: this.#call.mediaFormat,
          });
        },
        chunk: (piece) => {
          this.#metrics?.audioBytes.inc(AUDIO_OUT, base64ByteLength(piece));
          this.#call.sendText(
            `{"type":"playStream.chunk","streamId":"${this.#streamId}","audioChunk":"${piece}"}`,
          );
        },
        stop: () => {
          this.#call.send({ type: "playStream.stop", streamId: this.#streamId });
        },
      },
    });
    const profile = this.#profile;
    this.#instructions = profile.instructions;
    const restored = call.restored;
    if (restored) {
      // Taken over from another instance (shared registry): no second greeting, the prompt in
      // force, DTMF digits still being collected; play streams go on with new ids (one skipped:
      // a stream may have started after the last record was written); the Bridge replays the
      // conversation to the new upstream session.
      this.#started = restored.started;
      this.#streams = restored.streams + 1;
      this.#instructions = restored.instructions;
    }
    this.#bridge = new Bridge({
      ...bridgeConfig(deps.config, deps.upstreamUrl()),
      ...(restored ? { history: restored.history } : {}),
      ...(deps.pool ? { pool: deps.pool } : {}),
      session: {
        format: this.#plan.upstream,
        instructions: this.#instructions,
        voice: profile.voice,
        tools: [...ownTools(profile), ...this.#toolbox.httpDefinitions],
        turnDetection: profile.turnDetection,
        transcriptionModel: profile.transcriptionModel,
      },
      upstreamBytesPerMs: this.#upstreamBytesPerMs,
      leg: this,
      clock: this.#clock,
      log: call.log,
      onFunctionCall: (fc) => this.#tools.onFunctionCall(fc),
      onFailed: (reason) => this.#onFailed(reason),
    });
    this.#runs = new ToolRuns({
      bridge: this.#bridge,
      clock: this.#clock,
      fillerMs: deps.config.TOOL_FILLER_MS,
      callerSpeaking: () => this.#callerSpeaking,
    });
    this.#tools = new CallTools({
      call,
      clock: this.#clock,
      bridge: this.#bridge,
      playout: this.#playout,
      runs: this.#runs,
      profile: () => this.#profile,
      toolbox: () => this.#toolbox,
    });
    this.#dtmf = new DtmfCollector({
      config: deps.config,
      clock: this.#clock,
      ...(restored ? { digits: restored.dtmfDigits } : {}),
      say: (text) => this.#sendDtmf(text),
      checkpoint: () => this.#call.checkpoint(),
    });
    this.#meter.connecting(this.#plan.upstream.type);
    this.#bridge.start();
    this.#tools.applyLimits();
    this.#offerMcpTools();
  }

  #newToolbox(profile: AgentProfile): ToolBox {
    return phoneToolbox(this.#call, {
      profile,
      mcp: this.#deps.mcp,
      metrics: this.#deps.metrics,
      timeoutMs: this.#config.TOOL_TIMEOUT_MS,
    });
  }

  /** MCP servers are listed asynchronously; their tools join the session once known. */
  #offerMcpTools(): void {
    if (this.#profile.mcpServers.length === 0) return;
    const toolbox = this.#toolbox;
    void toolbox.definitions().then((tools) => {
      if (this.#closed || toolbox !== this.#toolbox) return;
      this.#bridge.updateSession({ tools: [...this.#ownTools(this.#profile), ...tools] });
    });
  }

  /** The Bridge, for tests and metrics. */
  get bridge(): Bridge {
    return this.#bridge;
  }

  // ---- CallAgent (VAIC → model) ----

  audio(audioChunk: string): void {
    if (this.#closed) return;
    this.#bridge.appendAudio(
      this.#transcoder ? this.#transcoder.toUpstream(audioChunk) : audioChunk,
    );
  }

  userStream(): void {}

  activity(activity: Activity): void {
    if (this.#closed) return;
    if (activity.type === "message" && typeof activity.text === "string" && activity.text.trim()) {
      // A text from the caller (VAIC text channels, the simulator's --text): a turn of its own.
      this.#tools.restartIdle();
      this.#sendDtmf(clip(activity.text.trim(), this.#config.MAX_TEXT_CHARS));
      return;
    }
    switch (eventName(activity)) {
      case "start":
        return this.#onStart();
      case "dtmf":
        return this.#onDtmf(typeof activity.value === "string" ? activity.value : "");
      default:
        return;
    }
  }

  detached(): void {
    if (this.#closed) return;
    this.#detached = true;
    // The play stream died with the socket: account for what was heard, drop the rest.
    this.#bridge.interrupt();
  }

  resumed(): void {
    this.#detached = false;
  }

  snapshot(): AgentSnapshot {
    return {
      started: this.#started,
      streams: this.#streams,
      dtmfDigits: this.#dtmf.digits,
      instructions: this.#instructions,
      history: this.#bridge.history.map(({ role, text }) => ({ role, text })),
    };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    // First, so that events already queued on the upstream socket find a closed leg.
    this.#closed = true;
    this.#tools.close();
    this.#dtmf.close();
    this.#runs.close();
    this.#toolbox.close();
    this.#meter.close();
    this.#bridge.close();
    this.#playout.close();
    this.#transcoder?.close();
    this.#meter.report(this.#bridge.stats);
    return Promise.resolve();
  }

  // ---- BridgeLeg (model → VAIC) ----

  playAudio(itemId: string, delta: string): void {
    if (this.#closed || this.#detached || this.#tools.ending) return;
    const t0 = this.#metrics ? this.#clock.monotonic() : 0;
    this.#play(itemId, delta);
    if (this.#metrics) {
      this.#metrics.frameLatency.observe(TO_CALLER, (this.#clock.monotonic() - t0) / 1000);
    }
  }

  #play(itemId: string, delta: string): void {
    if (!this.#transcoder) {
      const bpm = this.#plan.bytesPerMs;
      for (let i = 0; i < delta.length; i += this.#pieceChars) {
        const piece = delta.substring(i, i + this.#pieceChars);
        this.#playout.push(itemId, piece, base64ByteLength(piece) / bpm);
      }
      return;
    }
    const samples = this.#transcoder.fromUpstream(delta);
    const perMs = this.#plan.sampleRate / 1000;
    for (let i = 0; i < samples.length; i += this.#pieceSamples) {
      const piece = samples.subarray(i, i + this.#pieceSamples);
      this.#playout.push(itemId, bytesOf(piece).toBase64(), piece.length / perMs);
    }
  }

  endAudio(itemId: string): void {
    if (this.#closed) return;
    this.#playout.finish(itemId);
  }

  interrupt(): Interrupted | undefined {
    if (this.#closed) return undefined;
    return this.#playout.interrupt();
  }

  idle(): boolean {
    return !this.#playout.playing;
  }

  notify(event: LegEvent): void {
    if (this.#closed) return;
    this.#observe(event);
    // What VAIC hears of it comes last, after the call's own bookkeeping.
    const message = phoneLegMessage(event);
    if (message) this.#call.send(message);
  }

  /** The call's side of a leg event: its turns and metrics, transcripts, checkpoints. */
  #observe(event: LegEvent): void {
    if (event.type === "speech.started" || event.type === "speech.stopped") {
      this.#callerSpeaking = event.type === "speech.started";
      this.#tools.restartIdle();
    }
    this.#meter.event(event, this.#playout.playing);
    switch (event.type) {
      case "speech.recognition":
        this.#call.transcribe("caller", event.text);
        // A turn boundary: the caller's words are in the replay history now.
        this.#call.checkpoint();
        return;
      case "response.transcript.done":
        this.#call.transcribe("bot", event.text);
        return;
      case "response.done":
        this.#meter.report(this.#bridge.stats);
        this.#call.checkpoint();
        this.#tools.responseDone();
        return;
      default:
        return;
    }
  }

  // ---- call control ----

  #onStart(): void {
    if (this.#started) return;
    this.#started = true;
    this.#call.checkpoint();
    const data = this.#call.callData ?? {};
    const text = (key: string) => typeof data[key] === "string" ? data[key] : undefined;
    // The callee (and the caller as VAIC reports it) are known now: the profile may change.
    const profile = this.#deps.profiles().match({
      route: "phone",
      botName: this.#call.botName,
      callee: text("callee"),
      caller: text("caller") ?? this.#call.caller,
    });
    const patch: { -readonly [K in keyof SessionOptions]?: SessionOptions[K] } = {};
    if (profile !== this.#profile) {
      this.#profile = profile;
      this.#toolbox.close();
      this.#toolbox = this.#newToolbox(profile);
      // Before the model first speaks, so the voice may still change.
      patch.voice = profile.voice;
      patch.tools = [...this.#ownTools(profile), ...this.#toolbox.httpDefinitions];
      patch.turnDetection = profile.turnDetection;
      patch.transcriptionModel = profile.transcriptionModel;
      this.#tools.applyLimits();
      this.#offerMcpTools();
      this.#call.log.info({ profile: profile.name }, "Agent profile chosen at call start");
    }
    const filled = fillTemplate(profile.instructions, data);
    if (filled !== this.#instructions) {
      this.#instructions = filled;
      patch.instructions = filled;
    }
    if (Object.keys(patch).length > 0) this.#bridge.updateSession(patch);
    if (profile.greeting) {
      this.#bridge.requestResponse({
        instructions: `${filled}\n\n${fillTemplate(profile.greetingInstructions, data)}`,
      });
    }
  }

  #onDtmf(digits: string): void {
    if (this.#tools.ending) return;
    this.#dtmf.press(digits);
  }

  #sendDtmf(text: string): void {
    // A key press is an answer: stop talking over it.
    this.#bridge.interrupt();
    this.#bridge.sendUserText(text);
    this.#bridge.requestResponse();
  }

  #onFailed(reason: string): void {
    this.#metrics?.upstreamFailures.inc(PHONE);
    this.#call.log.error({ reason }, "Ending call: the model is unavailable");
    this.#tools.hangup(reason);
  }
}
