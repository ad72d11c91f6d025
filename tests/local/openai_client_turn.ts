/**
 * Runs one text turn and one audio turn with the official `openai` realtime client
 * (`OpenAIRealtimeWebSocket`, runtime-native WebSocket) against `wss://127.0.0.1:<port>/v1`.
 * Started as a subprocess by `openai_client_test.ts` with `DENO_CERT` pointing at the test CA, so
 * the TLS handshake is verified for real. Prints one JSON summary line.
 *
 * Usage: deno run --allow-net --allow-env --allow-read tests/local/openai_client_turn.ts <port>
 */
import OpenAI from "openai";
import { OpenAIRealtimeWebSocket } from "openai/realtime/websocket";

if (import.meta.main) {
  const port = Number(Deno.args[0]);
  const client = new OpenAI({ apiKey: "sk-local-test", baseURL: `https://127.0.0.1:${port}/v1` });
  const rt = new OpenAIRealtimeWebSocket({ model: "gpt-realtime" }, client);
  const errors: unknown[] = [];
  const types: string[] = [];
  const transcripts: string[] = [];
  let audioBytes = 0;
  rt.on("error", (error) => errors.push(error.error ?? error.message));
  rt.on("event", (event) => types.push(event.type));
  rt.on("response.output_audio.delta", (event) => {
    audioBytes += Uint8Array.fromBase64(event.delta).byteLength;
  });
  rt.on("response.output_audio_transcript.done", (event) => transcripts.push(event.transcript));

  const done = new Promise<void>((resolve) => {
    let count = 0;
    rt.on("response.done", () => {
      count++;
      if (count === 1) {
        // Second turn: a committed audio clip (manual turn detection).
        const clip = new Uint8Array(8 * 500).fill(0xff);
        rt.send({ type: "input_audio_buffer.append", audio: clip.toBase64() });
        rt.send({ type: "input_audio_buffer.commit" });
        rt.send({ type: "response.create" });
      } else if (count === 2) resolve();
    });
  });
  rt.socket.addEventListener("open", () => {
    rt.send({
      type: "session.update",
      session: {
        type: "realtime",
        audio: {
          input: { format: { type: "audio/pcmu" }, turn_detection: null },
          output: { format: { type: "audio/pcmu" }, voice: "marin" },
        },
      },
    });
    rt.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: "Hello" }] },
    });
    rt.send({ type: "response.create" });
  });
  const closed = new Promise<void>((resolve) =>
    rt.socket.addEventListener("close", () => resolve())
  );
  const timer = setTimeout(() => {
    errors.push("timed out");
    rt.close();
  }, 20_000);
  await Promise.race([done, closed]);
  clearTimeout(timer);
  rt.close();
  await closed;
  console.log(JSON.stringify({ url: rt.url.toString(), errors, types, transcripts, audioBytes }));
}
