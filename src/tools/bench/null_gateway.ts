/**
 * A do-nothing gateway for calibrating the benchmark (`deno task bench --calibrate`): the least
 * a relay between VAIC and a realtime upstream can do (no validation, no pacing, no state
 * beyond one play stream), on the same runtime and sockets as the real gateway. What the bench
 * measures through it is the floor of the harness on the machine: Deno's WebSocket I/O, the
 * kernel, the other processes and the bench's own event loop.
 *
 * Its upstream client is the gateway's (`UPSTREAM_CLIENT`: the `ws` npm client by default,
 * `perMessageDeflate: false`, TCP_NODELAY on; or Deno's native one), so "gateway / null relay"
 * isolates the gateway's own cost.
 *
 * Env: PORT (0), OPENAI_REALTIME_URL (the tap), UPSTREAM_CLIENT. Logs the same ready line as
 * `src/main.ts`.
 */
// @ts-types="../../realtime/ws_client.d.ts"
import WsWebSocket from "ws";

const APPEND_OPEN = `{"type":"input_audio_buffer.append","audio":"`;

/** The little of a WebSocket client the relay uses upstream. */
interface UpstreamSocket {
  readonly open: () => boolean;
  send(text: string): void;
  close(): void;
  onopen: () => void;
  onmessage: (text: string) => void;
  onclose: () => void;
}

/** Opens the upstream with the client the gateway would use. */
function connect(url: string): UpstreamSocket {
  const handlers = { onopen: () => {}, onmessage: (_: string) => {}, onclose: () => {} };
  if ((Deno.env.get("UPSTREAM_CLIENT") ?? "ws") === "native") {
    const socket = new WebSocket(url);
    socket.onopen = () => handlers.onopen();
    socket.onmessage = (event) => handlers.onmessage(String(event.data));
    socket.onclose = () => handlers.onclose();
    socket.onerror = () => {};
    return Object.assign(handlers, {
      open: () => socket.readyState === WebSocket.OPEN,
      send: (text: string) => socket.send(text),
      close: () => socket.close(),
    });
  }
  const socket = new WsWebSocket(url, { perMessageDeflate: false });
  socket.on("open", () => handlers.onopen());
  socket.on("message", (data, isBinary) => {
    if (!isBinary) handlers.onmessage(data.toString());
  });
  socket.on("close", () => handlers.onclose());
  socket.on("error", () => {});
  return Object.assign(handlers, {
    open: () => socket.readyState === WsWebSocket.OPEN,
    send: (text: string) => socket.send(text),
    close: () => socket.close(),
  });
}

function serve(): void {
  const upstreamUrl = Deno.env.get("OPENAI_REALTIME_URL") ?? "ws://127.0.0.1:8001/v1/realtime";
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? 0),
    onListen: () => {},
  }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("WebSocket upgrade expected", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    relay(socket, `${upstreamUrl}?model=bench`);
    return response;
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  console.log(JSON.stringify({ url, msg: "Voice gateway listening" }));
  Deno.addSignalListener("SIGTERM", () => void server.shutdown().then(() => Deno.exit(0)));
}

function relay(vaic: WebSocket, upstreamUrl: string): void {
  const upstream = connect(upstreamUrl);
  const early: string[] = [];
  let format = "raw/mulaw";
  let stream = 0;
  let playing: string | undefined;
  let item: string | undefined;
  /** The item talked over: its remaining audio is dropped, as the gateway does. */
  let dropped: string | undefined;
  // A stream stops when its audio would have played out (8 bytes per ms for G.711), as the
  // gateway's does, so the caller can talk over it.
  let startedAt = 0;
  let bytes = 0;
  let stopTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    clearTimeout(stopTimer);
    stopTimer = undefined;
    if (playing) toVaic({ type: "playStream.stop", streamId: playing });
    playing = undefined;
  };
  const bytesPerMs = () => (format === "raw/mulaw" || format === "raw/alaw" ? 8 : 48);
  const toVaic = (message: Record<string, unknown>) => {
    if (vaic.readyState === WebSocket.OPEN) vaic.send(JSON.stringify(message));
  };
  const toUpstream = (frame: string) => {
    if (upstream.open()) upstream.send(frame);
    else early.push(frame);
  };
  upstream.onopen = () => {
    for (const frame of early.splice(0)) upstream.send(frame);
  };
  vaic.onmessage = (event: MessageEvent) => {
    const data = String(event.data);
    const message = JSON.parse(data);
    switch (message.type) {
      case "userStream.chunk":
        toUpstream(`${APPEND_OPEN}${message.audioChunk}"}`);
        return;
      case "session.initiate": {
        format = message.supportedMediaFormats[0];
        const codec = format === "raw/alaw"
          ? { type: "audio/pcma" }
          : format === "raw/mulaw"
          ? { type: "audio/pcmu" }
          : { type: "audio/pcm", rate: 24000 };
        toVaic({ type: "session.accepted", mediaFormat: format });
        toUpstream(JSON.stringify({
          type: "session.update",
          session: {
            type: "realtime",
            audio: {
              input: {
                format: codec,
                // The gateway's defaults (VAD_*), so that replies and barge-ins compare.
                turn_detection: {
                  type: "server_vad",
                  threshold: 0.5,
                  prefix_padding_ms: 300,
                  silence_duration_ms: 500,
                  create_response: true,
                  interrupt_response: false,
                },
              },
              output: { format: codec },
            },
          },
        }));
        return;
      }
      case "activities": {
        const tag = message.activities?.[0]?.parameters?.benchTag;
        if (typeof tag === "string") {
          toUpstream(
            JSON.stringify({ type: "session.update", session: { instructions: `Tag ${tag}.` } }),
          );
          toUpstream(JSON.stringify({ type: "response.create" }));
        }
        return;
      }
      case "userStream.start":
        toVaic({ type: "userStream.started" });
        return;
      case "userStream.stop":
        toVaic({ type: "userStream.stopped" });
        return;
      case "session.end":
        upstream.close();
        vaic.close(1000, "session ended");
        return;
    }
  };
  upstream.onmessage = (data: string) => {
    if (!data.startsWith(`{"type":"response.output_audio.delta"`)) {
      const message = JSON.parse(data);
      if (message.type === "input_audio_buffer.speech_started") {
        toVaic({ type: "userStream.speech.started" });
        if (playing) dropped = item;
        stop();
      } else if (message.type === "response.output_audio.done" && playing) {
        const left = startedAt + bytes / bytesPerMs() - performance.now();
        stopTimer = setTimeout(stop, Math.max(0, left));
      }
      return;
    }
    const message = JSON.parse(data);
    if (message.item_id === dropped) return;
    item = message.item_id;
    if (!playing) {
      playing = `play-${stream++}`;
      startedAt = performance.now();
      bytes = 0;
      toVaic({ type: "playStream.start", streamId: playing, mediaFormat: format });
    }
    bytes += (message.delta.length / 4) * 3;
    if (vaic.readyState === WebSocket.OPEN) {
      vaic.send(
        `{"type":"playStream.chunk","streamId":"${playing}","audioChunk":"${message.delta}"}`,
      );
    }
  };
  vaic.onclose = () => {
    clearTimeout(stopTimer);
    upstream.close();
  };
  upstream.onclose = () => {
    if (vaic.readyState === WebSocket.OPEN) vaic.close(1000, "upstream closed");
  };
  vaic.onerror = () => {};
}

if (import.meta.main) serve();
