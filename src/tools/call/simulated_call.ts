/** The caller's script of a simulated call: connect, initiate, stream audio, listen, hang up. */
import { formatPlan, isAudioCodesFormat } from "../../protocol/media_format.ts";
import type { VaicMessage } from "../../protocol/audiocodes.ts";
import { toBase64 } from "../../audio/pcm.ts";
import type { CallOptions, CallReport } from "./types.ts";
import { CallCore, errorMessage } from "./call_core.ts";
import { onBotMessage, onSocketClose } from "./bot_messages.ts";
import { base64Frames, encodeForFormat, silenceFrame } from "./format_audio.ts";
import { callReport } from "./report.ts";
import type { Pending } from "./vaic_connection.ts";

/** Places one simulated VAIC call against a gateway and reports what happened. */
export async function runCall(options: CallOptions = {}): Promise<CallReport> {
  return await run(new CallCore(options));
}

async function run(call: CallCore): Promise<CallReport> {
  const signal = call.options.signal;
  const onAbort = () => {
    call.ending ??= "aborted";
    call.wake();
  };
  signal?.addEventListener("abort", onAbort);
  try {
    if (signal?.aborted) {
      call.ending = "aborted";
      return await callReport(call);
    }
    if (await connect(call)) await converse(call);
    await hangUp(call);
    return await callReport(call);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

async function connect(call: CallCore): Promise<boolean> {
  const headers: Record<string, string> = {};
  if (call.options.token !== undefined) headers.authorization = `Bearer ${call.options.token}`;
  call.entry({ direction: "local", type: "connecting", detail: { url: call.url } });
  let socket: WebSocket;
  try {
    socket = call.options.webSocket
      ? call.options.webSocket(call.url, headers)
      : new WebSocket(call.url, { headers });
  } catch (cause) {
    call.error = `Cannot connect to ${call.url}: ${errorMessage(cause)}`;
    call.ending = "connect-error";
    return false;
  }
  call.socket = socket;
  socket.addEventListener("open", () => {
    call.opened = true;
    call.connectedAtMs = call.entry({ direction: "local", type: "open" }).atMs;
    call.wake();
  });
  socket.addEventListener("error", (event) => {
    const message = event instanceof ErrorEvent ? event.message : "";
    if (!call.opened) call.connectError = message || "connection failed";
    call.wake();
  });
  socket.addEventListener("close", (event) => onSocketClose(call, event.code, event.reason));
  socket.addEventListener("message", (event) => onBotMessage(call, event.data));
  await call.until(
    () => call.opened || call.closed || call.ending !== undefined,
    call.timeoutMs,
  );
  if (!call.opened) {
    if (call.ending !== "aborted") {
      const why = call.connectError ??
        (call.closed ? "socket closed" : `no answer within ${call.timeoutMs} ms`);
      call.error = `Cannot connect to ${call.url}: ${why}`;
      call.ending = "connect-error";
    }
    return false;
  }
  return true;
}

/** Sends a request and awaits its reply; false (with a violation) when it never comes. */
async function request(
  call: CallCore,
  pending: Pending,
  message: VaicMessage,
  reply: string,
): Promise<boolean> {
  const answered = await call.request(pending, () => call.send(message), {
    timeoutMs: call.timeoutMs,
    stop: () => call.ending !== undefined,
  });
  if (call.ending !== undefined) return false;
  if (!answered) {
    call.violation(`No ${reply} within ${call.timeoutMs} ms of ${message.type}`);
    call.pending = undefined;
    call.ending = "timeout";
    return false;
  }
  return true;
}

async function converse(call: CallCore): Promise<void> {
  const o = call.options;
  const conversationId = call.conversationId;
  const initiate: VaicMessage = {
    type: "session.initiate",
    conversationId,
    expectAudioMessages: true,
    supportedMediaFormats: [...call.offered],
    botName: o.botName ?? "simulator",
    caller: o.caller ?? "+15550100001",
  };
  if (!await request(call, "accepted", initiate, "session.accepted")) return;

  const format = call.mediaFormat ?? "";
  if (!isAudioCodesFormat(format)) {
    call.error = `Cannot stream audio: unsupported accepted format "${format}"`;
    call.ending = "client";
    return;
  }
  call.send({
    type: "activities",
    conversationId,
    activities: [{
      id: call.newId(),
      timestamp: new Date(call.clock.now()).toISOString(),
      language: o.language ?? "en-US",
      type: "event",
      name: "start",
      parameters: {
        vaigConversationId: conversationId,
        caller: o.caller ?? "+15550100001",
        callerHost: "127.0.0.1",
        callerDisplayName: o.callerDisplayName ?? "Call Simulator",
        callee: o.callee ?? "+15550100002",
        calleeHost: "127.0.0.1",
      },
    }],
  });

  // Prepare the caller audio before opening the stream, so pacing starts on time.
  const plan = formatPlan(format);
  const audioBytes = o.audio
    ? await encodeForFormat(o.audio, format, { resamplers: o.resamplers })
    : new Uint8Array(0);
  if (call.ending) return;
  if (
    !await request(
      call,
      "started",
      { type: "userStream.start", conversationId },
      "userStream.started",
    )
  ) {
    return;
  }

  const frameMs = call.frameMs;
  const frameBytes = plan.bytesPerMs * frameMs;
  const silence = toBase64(silenceFrame(format, frameMs));
  const frames = base64Frames(audioBytes, format, frameMs);
  const leadFrames = Math.ceil((o.leadSilenceMs ?? 0) / frameMs);
  const audioFrames = frames.length;
  const tailFrames = Math.ceil((o.tailSilenceMs ?? 1500) / frameMs);
  const speechFrames = leadFrames + audioFrames;
  const totalFrames = speechFrames + tailFrames;
  const defaultDtmfAt = speechFrames * frameMs;
  const dtmf = [
    ...(o.dtmf ?? []).map((press) => ({
      digits: press.digits,
      text: undefined,
      atMs: press.atMs ?? defaultDtmfAt,
    })),
    ...(o.texts ?? []).map((input) => ({
      digits: undefined,
      text: input.text,
      atMs: input.atMs ?? defaultDtmfAt,
    })),
  ].sort((a, b) => a.atMs - b.atMs);

  let frame = 0;
  const interval = call.speed > 0 ? frameMs / call.speed : 0;
  const streamStart = call.clock.monotonic();

  const sendDtmf = (upToMs: number) => {
    while (dtmf.length > 0 && dtmf[0]!.atMs <= upToMs) {
      const press = dtmf.shift()!;
      const common = { id: call.newId(), timestamp: new Date(call.clock.now()).toISOString() };
      call.send({
        type: "activities",
        conversationId,
        activities: [
          press.text === undefined
            ? { ...common, type: "event", name: "DTMF", value: press.digits }
            : { ...common, type: "message", text: press.text },
        ],
      });
      if (press.digits !== undefined) call.dtmfSent.push(press.digits);
    }
  };
  const markSpeechEnd = () => {
    if (call.speechEndSeq === undefined && frame >= speechFrames && dtmf.length === 0) {
      call.speechEndSeq = call.seq;
      call.speechEndAtMs = call.now();
      call.wake();
    }
  };
  const sendFrame = () => {
    const bytes = frameBytes;
    const chunk = frame >= leadFrames && frame < speechFrames
      ? frames[frame - leadFrames]!
      : silence;
    call.send(
      { type: "userStream.chunk", conversationId, audioChunk: chunk },
      { type: "userStream.chunk", bytes },
    );
    call.chunksSent++;
    call.bytesSent += bytes;
    frame++;
  };

  /**
   * Streams frames (audio, then silence) paced against `streamStart` until `done()`, the
   * deadline, or the end of the call. At speed 0 only the audio is streamed, as fast as the
   * socket takes it; afterwards it just listens.
   */
  const pump = async (done: () => boolean, deadline = Infinity): Promise<void> => {
    while (call.ending === undefined && !done()) {
      const now = call.clock.monotonic();
      if (now >= deadline) return;
      if (interval === 0 && frame >= totalFrames) {
        sendDtmf(Infinity);
        markSpeechEnd();
        await call.until(() => call.ending !== undefined || done(), deadline - now);
        continue;
      }
      sendDtmf(frame * frameMs);
      sendFrame();
      markSpeechEnd();
      if (interval > 0) {
        const wait = streamStart + frame * interval - call.clock.monotonic();
        if (wait > 0) await call.until(() => call.ending !== undefined, wait);
      } else if (frame % 50 === 0) {
        // Let incoming messages in between bursts.
        await call.until(() => call.ending !== undefined, 0);
      }
    }
  };

  await pump(() => frame >= totalFrames);
  const waitEnd = call.clock.monotonic() + (o.waitMs ?? 15000);
  if ((o.waitUntil ?? "reply") === "reply") {
    await pump(() => call.replyDone(), waitEnd);
  } else {
    await pump(() => false, waitEnd);
  }
  // A stream still open: listen while it keeps moving; one idle for timeoutMs never stopped.
  while (call.open && call.ending === undefined) {
    const open = call.open;
    const seen = call.lastPlayActivitySeq;
    await pump(
      () => call.open !== open || call.lastPlayActivitySeq !== seen,
      call.clock.monotonic() + call.timeoutMs,
    );
    if (call.open === open && call.lastPlayActivitySeq === seen && !call.ending) {
      call.violation(
        `Play stream "${open.streamId}" was never stopped (idle for ${call.timeoutMs} ms)`,
      );
      call.open = undefined;
    }
  }
  if (call.ending !== undefined) return;
  await request(call, "stopped", { type: "userStream.stop", conversationId }, "userStream.stopped");
}

async function hangUp(call: CallCore): Promise<void> {
  const sendEnd = call.opened && !call.closed && call.ending !== "session-error"
    ? () => {
      const reasonCode = call.ending === "bot-hangup"
        ? "bot-disconnected"
        : call.ending === "transfer"
        ? "transferred"
        : "client-disconnected";
      const reason = call.ending === "aborted" ? "Simulator aborted" : "Client Side";
      call.ending ??= "client";
      call.send({ type: "session.end", conversationId: call.conversationId, reasonCode, reason });
      call.sentEnd = true;
    }
    : undefined;
  await call.hangUp({
    sendEnd,
    lingerMs: call.options.lingerMs ?? 1000,
    timeoutMs: call.timeoutMs,
  });
}
