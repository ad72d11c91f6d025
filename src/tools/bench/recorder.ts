/** What a run (or ramp step) records across its calls, and its error counters. */
import { Samples, Series } from "./stats.ts";

/** Error counters of a run, by kind. */
export interface ErrorCounts {
  /** Calls that could not connect or were not accepted in time. */
  connect: number;
  /** `session.error` from the gateway. */
  rejected: number;
  /** A protocol reply (accepted, started, stopped) that never came. */
  timeouts: number;
  /** The gateway closed a call or hung up before the bench ended it. */
  closedByGateway: number;
  /** Caller frames the gateway never forwarded upstream. */
  droppedFrames: number;
  /** Caller frames forwarded upstream after a later frame. */
  outOfOrderFrames: number;
  /** Appends that match no caller frame. */
  unknownAppends: number;
  /** Play-stream chunks that match no model audio, or whose bytes differ from it. */
  badChunks: number;
  /** Bytes of model audio never played although their stream ended normally. */
  droppedOutBytes: number;
  /** The caller spoke over the bot but no `playStream.stop` followed at once. */
  missedBargeIns: number;
  /** The caller spoke and no reply came within the reply timeout. */
  noReply: number;
  /** Upstream sessions the tap could not tie to a call. */
  unmappedSessions: number;
  /** Play-stream messages out of protocol order. */
  protocol: number;
}

/** Fresh zero counters. */
export function noErrors(): ErrorCounts {
  return {
    connect: 0,
    rejected: 0,
    timeouts: 0,
    closedByGateway: 0,
    droppedFrames: 0,
    outOfOrderFrames: 0,
    unknownAppends: 0,
    badChunks: 0,
    droppedOutBytes: 0,
    missedBargeIns: 0,
    noReply: 0,
    unmappedSessions: 0,
    protocol: 0,
  };
}

/** Everything one run (or ramp step) records, across its calls. */
export class Recorder {
  /** Calls between `session.accepted` and the end of their audio. */
  live = 0;
  /** Caller frame → append, after the upstream was ready. */
  readonly frameIn: Series = new Series();
  /** Delta → chunk for pieces the gateway could send at once. */
  readonly frameOut: Series = new Series();
  /** Chunks held by the playout lead: lateness against the moment the lead let them go. */
  readonly paced: Series = new Series();
  /** Caller frames sent before the upstream session was ready (held by the gateway). */
  readonly preReady: Samples = new Samples();
  readonly setup: Samples = new Samples();
  /** `session.initiate` sent → first `session.updated` passed to the gateway. */
  readonly upstreamReady: Samples = new Samples();
  readonly bargeIn: Samples = new Samples();
  /** Barge-in as the caller hears it: their speech starts → the last bot chunk delivered. */
  readonly bargeInHeard: Samples = new Samples();
  /** `session.initiate` sent → the call's first bot audio (the greeting) at VAIC. */
  readonly greeting: Samples = new Samples();
  readonly replyTotal: Samples = new Samples();
  readonly replyEngine: Samples = new Samples();
  readonly replyGateway: Samples = new Samples();
  /** How late the bench sent frames against their 20 ms schedule. */
  readonly sendLateness: Samples = new Samples();
  /** Queueing delay of this process's event loop (a measurement error of every latency). */
  readonly loopLag: Samples = new Samples();
  readonly errors: ErrorCounts = noErrors();
  readonly counts = {
    framesSent: 0,
    framesAppended: 0,
    chunksReceived: 0,
    bargeIns: 0,
    replies: 0,
    upstreamSessions: 0,
  };
}
