/**
 * Generated call timelines for the lifecycle race suite: what a timeline is (steps at offsets
 * after milestones), its fast-check arbitraries, and the drivers that play one against a running
 * gateway — a phone call over the AudioCodes Bot API and an app session on the user route.
 */
import fc from "fast-check";
import type { App } from "../../src/app.ts";
import type { PcmAudio } from "../../src/audio/wav.ts";
import { bytesOf } from "../../src/audio/pcm.ts";
import type { AudioCodesFormat } from "../../src/protocol/media_format.ts";
import type { ReplyPlan, ScenarioTurn } from "../../src/local/scenario.ts";
import { fixture, silence, Vaic } from "../audiocodes/rig.ts";
import { JsonSocket, wsUrl } from "../helpers.ts";
import { delay, engineSessions, eventually, FORMATS } from "./lifecycle_rig.ts";

/** The only transfer target the gateway allows in these tests. */
export const TRANSFER_TARGET = "tel:+18005550100";

/** Gateway settings that keep one timeline to a few seconds. */
export const TIMELINE_ENV: Record<string, string> = {
  RESUME_GRACE_MS: "400",
  VAD_SILENCE_MS: "200",
  AUDIOCODES_RATE_LIMIT: "100000",
  REALTIME_RATE_LIMIT: "10000",
  TRANSFER_TARGETS: TRANSFER_TARGET,
};

/** DTMF digits the scenario turns into tool calls; other digits go to the model as text. */
const TOOL_DIGITS = { end_call: "9", transfer_call: "8" } as const;

/** The engine's scenario: a key press of 9 or 8 makes the model call end_call or transfer_call. */
export function toolScenario(turn: ScenarioTurn): ReplyPlan | undefined {
  if (turn.input.kind !== "text") return undefined;
  if (turn.input.text.includes(`pressed ${TOOL_DIGITS.end_call} `)) {
    return { toolCall: { name: "end_call", arguments: { reason: "caller pressed 9" } } };
  }
  if (turn.input.text.includes(`pressed ${TOOL_DIGITS.transfer_call} `)) {
    return {
      toolCall: {
        name: "transfer_call",
        arguments: { target: TRANSFER_TARGET, reason: "caller pressed 8" },
      },
    };
  }
  return undefined;
}

/** When a step acts: right away, or after a milestone of the call (if it comes within 1.5 s). */
export type Milestone =
  | "now"
  /** The greeting's play stream started. */
  | "greeting"
  /** A reply is being generated: the caller's turn was committed (app: response.started). */
  | "replyGenerating"
  /** A reply is playing: a play stream started since the last action (app: response.audio). */
  | "replyPlaying"
  /** The upstream is back after a drop (the engine has a live session again). */
  | "reconnect";

/** What the caller (VAIC) does. Speech while the bot plays is a barge-in. */
export type PhoneAction =
  | { readonly kind: "speech"; readonly clip: "short" | "question" }
  | { readonly kind: "silence" }
  | { readonly kind: "dtmf"; readonly digit: string }
  | { readonly kind: "tool"; readonly tool: keyof typeof TOOL_DIGITS }
  | { readonly kind: "hangup" }
  /** The VAIC socket drops without session.end; `resumeAfterMs` null: no resume. */
  | { readonly kind: "drop"; readonly resumeAfterMs: number | null }
  | { readonly kind: "upstreamDrop" };

/** What an app client does. */
export type AppAction =
  | { readonly kind: "text" }
  | { readonly kind: "audio" }
  | { readonly kind: "interrupt" }
  | { readonly kind: "close" }
  | { readonly kind: "upstreamDrop" };

/** One step of a timeline. */
export interface Step<A> {
  readonly at: Milestone;
  readonly offsetMs: number;
  readonly action: A;
}

/** A phone call's timeline. */
export interface PhoneTimeline {
  readonly format: AudioCodesFormat;
  readonly steps: readonly Step<PhoneAction>[];
  /** How long the call goes on after the last step before VAIC hangs up. */
  readonly tailMs: number;
  /** The engine's output speed (× real time): 1 generates while playing, 40 in bursts. */
  readonly speed: number;
}

const milestone = fc.constantFrom<Milestone>(
  "now",
  "greeting",
  "replyGenerating",
  "replyPlaying",
  "reconnect",
);

const step = <A>(action: fc.Arbitrary<A>): fc.Arbitrary<Step<A>> =>
  fc.record({ at: milestone, offsetMs: fc.integer({ min: 0, max: 300 }), action });

const phoneAction: fc.Arbitrary<PhoneAction> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("speech" as const),
      clip: fc.constantFrom("short" as const, "question" as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "silence" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("dtmf" as const),
      digit: fc.constantFrom("1", "5", "0", "*", "#"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("tool" as const),
      tool: fc.constantFrom("end_call" as const, "transfer_call" as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "hangup" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("drop" as const),
      resumeAfterMs: fc.option(fc.integer({ min: 0, max: 150 }), { nil: null }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "upstreamDrop" as const }) },
);

/** Phone timelines: a format and 1–4 steps. */
export const phoneTimeline: fc.Arbitrary<PhoneTimeline> = fc.record({
  format: fc.constantFrom(...FORMATS),
  steps: fc.array(step(phoneAction), { minLength: 1, maxLength: 4 }),
  tailMs: fc.integer({ min: 0, max: 1500 }),
  speed: fc.constantFrom(8, 1, 40),
});

const appAction: fc.Arbitrary<AppAction> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: "text" as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: "audio" as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: "interrupt" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "close" as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: "upstreamDrop" as const }) },
);

/** An app session's timeline. */
export interface AppTimeline {
  readonly steps: readonly Step<AppAction>[];
  /** How long the session goes on after the last step before the client closes. */
  readonly tailMs: number;
  /** The engine's output speed (× real time). */
  readonly speed: number;
}

/** App session timelines: 1–4 steps. */
export const appTimeline: fc.Arbitrary<AppTimeline> = fc.record({
  steps: fc.array(step(appAction), { minLength: 1, maxLength: 4 }),
  tailMs: fc.integer({ min: 0, max: 1500 }),
  speed: fc.constantFrom(8, 1, 40),
});

/** A short text form of a timeline, for test step names. */
export function describeSteps<A extends { kind: string }>(steps: readonly Step<A>[]): string {
  return steps.map((s) => {
    const { kind, ...rest } = s.action;
    const args = Object.values(rest).map(String).join(",");
    return `${kind}${args ? `(${args})` : ""}@${s.at}+${s.offsetMs}`;
  }).join(" → ");
}

/** How long a step waits for its milestone before acting anyway. */
const MILESTONE_MS = 1500;

/** Polls `check` every 5 ms until it holds or `ms` pass; true when it held. */
async function within(ms: number, check: () => boolean): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await delay(5);
  }
  return true;
}

const clips = new Map<string, PcmAudio>();
async function clip(name: "short" | "question"): Promise<PcmAudio> {
  const file = name === "short" ? "short_24k.wav" : "question_8k.wav";
  let audio = clips.get(file);
  if (!audio) clips.set(file, audio = await fixture(file));
  return audio;
}

/** Plays a phone timeline: one call, VAIC's side. Resolves when the call is over for VAIC. */
export class PhoneCallDriver {
  readonly #app: App;
  readonly #format: AudioCodesFormat;
  readonly conversationId: string;
  /** Every message the gateway sent this call, over all its sockets, in order. */
  readonly messages: Record<string, unknown>[] = [];
  #vaic: Vaic | undefined;
  /** `messages.length` when the last action ran: milestones count from there. */
  #mark = 0;
  #upstreamDropped = false;
  /** Why the call is over for VAIC, once it is. */
  over: string | undefined;

  constructor(app: App, format: AudioCodesFormat, conversationId: string) {
    this.#app = app;
    this.#format = format;
    this.conversationId = conversationId;
  }

  #socket(): Vaic {
    const vaic = new Vaic(this.#app, this.conversationId);
    vaic.socket.socket.addEventListener("message", (event) => {
      this.messages.push(JSON.parse(String(event.data)));
    });
    this.#vaic = vaic;
    return vaic;
  }

  #open(): Vaic | undefined {
    const vaic = this.#vaic;
    return vaic && vaic.socket.socket.readyState === WebSocket.OPEN ? vaic : undefined;
  }

  /** Places the call: accepted, start activity (the greeting begins), user stream open. */
  async begin(): Promise<void> {
    await this.#socket().begin([this.#format]);
  }

  /** Plays every step, lets the call go on for `tailMs`, then hangs up if it is still on. */
  async play(steps: readonly Step<PhoneAction>[], tailMs: number): Promise<void> {
    for (const s of steps) {
      if (this.over !== undefined && s.action.kind !== "upstreamDrop") continue;
      await this.#until(s.at);
      await delay(s.offsetMs);
      await this.#act(s.action);
      this.#mark = this.messages.length;
      await this.#obeyBot();
    }
    if (this.over === undefined) await delay(tailMs);
    await this.#obeyBot();
    if (this.over === undefined) await this.#act({ kind: "hangup" });
  }

  async #until(at: Milestone): Promise<void> {
    const since = (type: string) => () =>
      this.messages.slice(this.#mark).some((m) => m.type === type);
    switch (at) {
      case "now":
        return;
      case "greeting":
        await within(MILESTONE_MS, () => this.messages.some((m) => m.type === "playStream.start"));
        return;
      case "replyGenerating":
        await within(MILESTONE_MS, since("userStream.speech.committed"));
        return;
      case "replyPlaying":
        await within(MILESTONE_MS, since("playStream.start"));
        return;
      case "reconnect":
        await within(MILESTONE_MS, () => !this.#upstreamDropped || engineSessions(this.#app) > 0);
        return;
      default:
        at satisfies never;
    }
  }

  async #act(action: PhoneAction): Promise<void> {
    const vaic = this.#open();
    switch (action.kind) {
      case "speech":
        await vaic?.stream(await clip(action.clip));
        await vaic?.stream(silence(600));
        return;
      case "silence":
        await vaic?.stream(silence(400));
        return;
      case "dtmf":
        vaic?.activity({ type: "event", name: "DTMF", value: action.digit });
        return;
      case "tool":
        vaic?.activity({ type: "event", name: "DTMF", value: TOOL_DIGITS[action.tool] });
        return;
      case "hangup":
        this.over ??= "caller hung up";
        await this.#vaic?.[Symbol.asyncDispose]();
        return;
      case "drop": {
        if (!this.#vaic) return;
        await this.#vaic.socket.close();
        if (action.resumeAfterMs === null) {
          this.over ??= "socket dropped, no resume";
          return;
        }
        // VAIC resumes once the drop is seen on both sides: the gateway has detached the call
        // (or released it, if it was ending anyway).
        const manager = this.#app.gateway.manager;
        await eventually(
          () => manager.get(this.conversationId)?.phase !== "live",
          () => `the gateway never saw the socket of "${this.conversationId}" drop`,
        );
        await delay(action.resumeAfterMs);
        await this.#resume();
        return;
      }
      case "upstreamDrop":
        this.#upstreamDropped = true;
        this.#app.engine?.disconnectAll();
        return;
      default:
        action satisfies never;
    }
  }

  /** `session.resume` on a new socket; a call that is gone answers with session.error. */
  async #resume(): Promise<void> {
    const registered = this.#app.gateway.manager.get(this.conversationId) !== undefined;
    const vaic = this.#socket();
    vaic.socket.send({ type: "session.resume", conversationId: this.conversationId });
    const answer = await vaic.socket.next((m) =>
      m.type === "session.accepted" || m.type === "session.error"
    );
    if (answer.type === "session.accepted") {
      vaic.mediaFormat = this.#format;
      vaic.socket.send({ type: "userStream.start", conversationId: this.conversationId });
      await vaic.socket.next("userStream.started");
      return;
    }
    if (registered) {
      throw new Error(
        `session.resume of a registered call was refused: ${JSON.stringify(answer)}`,
      );
    }
    this.over ??= "resume refused: the call was gone";
    await vaic.socket.close();
  }

  /** VAIC ends the session when the bot hangs up or transfers (§ hangup, transfer activities). */
  async #obeyBot(): Promise<void> {
    if (this.over !== undefined) return;
    const ending = this.messages.some((m) =>
      m.type === "activities" &&
      (m.activities as { name?: string }[]).some((a) =>
        a.name === "hangup" || a.name === "transfer"
      )
    );
    if (ending) {
      this.over = "the bot hung up or transferred";
      await this.#vaic?.[Symbol.asyncDispose]();
    }
  }

  /** Closes whatever socket is still open (a failed run). */
  async close(): Promise<void> {
    await this.#vaic?.socket.close();
  }
}

let speech24k: string[] | undefined;
/** short_24k.wav and 600 ms of silence as 200 ms base64 pieces of PCM16 24 kHz. */
async function appSpeech(): Promise<string[]> {
  if (speech24k) return speech24k;
  const audio = await clip("short");
  const samples = new Int16Array(audio.samples.length + 600 * 24);
  samples.set(audio.samples);
  const pieces: string[] = [];
  for (let i = 0; i < samples.length; i += 4800) {
    pieces.push(bytesOf(samples.subarray(i, i + 4800)).toBase64());
  }
  return speech24k = pieces;
}

/** Plays an app session timeline on the open user route. */
export class AppSessionDriver {
  readonly #app: App;
  readonly client: JsonSocket;
  #mark = 0;
  #upstreamDropped = false;
  closed = false;

  constructor(app: App, userId: string) {
    this.#app = app;
    this.client = new JsonSocket(wsUrl(app, `/api/v1/streaming/realtime/${userId}`));
  }

  /** Connects: session.created. */
  async begin(): Promise<void> {
    await this.client.next("session.created");
  }

  /** Plays every step, lets the session go on for `tailMs`, then closes the socket. */
  async play(steps: readonly Step<AppAction>[], tailMs: number): Promise<void> {
    for (const s of steps) {
      if (this.closed && s.action.kind !== "upstreamDrop") continue;
      await this.#until(s.at);
      await delay(s.offsetMs);
      await this.#act(s.action);
      this.#mark = this.client.received.length;
    }
    if (!this.closed) await delay(tailMs);
    if (!this.closed) await this.#act({ kind: "close" });
  }

  async #until(at: Milestone): Promise<void> {
    const received = this.client.received;
    const since = (type: string) => () => received.slice(this.#mark).some((m) => m.type === type);
    switch (at) {
      case "now":
        return;
      case "greeting":
        // App sessions have no greeting: the model is ready instead.
        await within(MILESTONE_MS, () => received.some((m) => m.type === "session.ready"));
        return;
      case "replyGenerating":
        await within(MILESTONE_MS, since("response.started"));
        return;
      case "replyPlaying":
        await within(MILESTONE_MS, since("response.audio"));
        return;
      case "reconnect":
        await within(MILESTONE_MS, () => !this.#upstreamDropped || engineSessions(this.#app) > 0);
        return;
      default:
        at satisfies never;
    }
  }

  async #act(action: AppAction): Promise<void> {
    const open = this.client.socket.readyState === WebSocket.OPEN;
    switch (action.kind) {
      case "text":
        if (open) {
          this.client.send({
            type: "conversation.item.input",
            conversation_item_input: { type: "input_text", text: "Hello there" },
          });
        }
        return;
      case "audio":
        if (!open) return;
        for (const audio of await appSpeech()) {
          this.client.send({
            type: "conversation.item.input",
            conversation_item_input: { type: "input_audio_buffer", audio },
          });
        }
        return;
      case "interrupt":
        if (open) this.client.send({ type: "response.interrupt" });
        return;
      case "close":
        this.closed = true;
        await this.client.close();
        return;
      case "upstreamDrop":
        this.#upstreamDropped = true;
        this.#app.engine?.disconnectAll();
        return;
      default:
        action satisfies never;
    }
  }
}
