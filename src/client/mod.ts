/**
 * The VoiceSession SDK: a TypeScript client of the gateway's user realtime API, for Deno and
 * browsers. Hold a live, interruptible voice conversation with the model: send the user's
 * audio, receive the model's (whole or streamed), let turn detection find the user's turns,
 * interrupt, and follow it all through a state machine and events.
 *
 * Audio is PCM16 mono at 24 kHz unless {@linkcode VoiceSession.configureAudio} says otherwise.
 * In browsers, {@linkcode startMicrophone}, {@linkcode AudioPlayer} and
 * {@linkcode playResponses} give a session a microphone and a speaker.
 *
 * @example A spoken turn and its reply (against `deno task start` on localhost:8000)
 * ```ts ignore
 * import { SessionState, VoiceSession } from "./mod.ts";
 *
 * const session = new VoiceSession({ url: "http://localhost:8000", voice: "alloy" });
 * session.on("state_change", (state) => console.log("state:", state));
 * session.on("transcript_available", (text, { role }) => console.log(`${role}: ${text}`));
 *
 * await using voice = await session.connect();
 * const speech = await Deno.readFile("hello_24k.pcm"); // PCM16 mono 24 kHz
 * const reply = await voice.respond(speech, { timeout: 15_000 });
 * console.log(reply.transcript, reply.audio.byteLength);
 * console.log(voice.state === SessionState.CONNECTED);
 * ```
 *
 * @module
 */
export {
  type Interruption,
  type ResponseChunk,
  type Role,
  type VoiceResponse,
} from "./response_stream.ts";
export { type Utterance } from "./audio_timeline.ts";
export {
  type Agent,
  type TurnDetection,
  type TurnDetectionOptions,
  type Voice,
  type VoiceSessionOptions,
} from "./options.ts";
export { SessionState, type VoiceSessionEvents } from "./session_state.ts";
export { VoiceSession, type WaitOptions } from "./voice_session.ts";
export {
  AudioFormatError,
  type ClientErrorCode,
  ConfigurationError,
  ConnectionClosedError,
  ConnectionError,
  NotConnectedError,
  ServerError,
  TimeoutError,
  VoiceSessionError,
} from "./errors.ts";
export { type AudioSettings, MODEL_SAMPLE_RATE, type SampleFormat } from "./audio.ts";
export {
  type AnyClientTool,
  type ArgumentSchema,
  type ClientTool,
  type ToolCallContext,
} from "./tools.ts";
export {
  type AudioBufferSourceLike,
  type AudioContextLike,
  type AudioNodeLike,
  AudioPlayer,
  type MediaStreamLike,
  type Microphone,
  type MicrophoneOptions,
  openAudioContext,
  playResponses,
  startMicrophone,
} from "./browser.ts";
export { installPcmCapture, pcmCaptureSource } from "./pcm_worklet.ts";
