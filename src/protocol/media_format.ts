/**
 * AudioCodes media format identifiers (protocol doc §4.1) and how each maps onto the OpenAI
 * Realtime GA audio formats (ARCHITECTURE.md "Audio format plan").
 */

/** The `raw/*` formats the gateway can stream. `wav/*` framing is undocumented (§4.3), so none. */
export const AUDIOCODES_FORMATS = [
  "raw/lpcm16_24",
  "raw/mulaw",
  "raw/alaw",
  "raw/lpcm16",
  "raw/lpcm16_8",
] as const;

/** One of {@linkcode AUDIOCODES_FORMATS}. */
export type AudioCodesFormat = typeof AUDIOCODES_FORMATS[number];

/** An OpenAI Realtime GA audio format object. */
export type RealtimeFormat =
  | { type: "audio/pcm"; rate: 24000 }
  | { type: "audio/pcmu" }
  | { type: "audio/pcma" };

/** What the gateway does per frame for one VAIC format. */
export interface FormatPlan {
  /** The AudioCodes identifier. */
  readonly format: AudioCodesFormat;
  /** Codec family of the VAIC side. */
  readonly codec: "pcm16" | "mulaw" | "alaw";
  /** Sample rate of the VAIC side in Hz. */
  readonly sampleRate: number;
  /** Bytes per millisecond on the VAIC side. */
  readonly bytesPerMs: number;
  /** The upstream format both directions use. */
  readonly upstream: RealtimeFormat;
  /** True when the base64 string can be forwarded untouched in both directions. */
  readonly passThrough: boolean;
}

const PLANS: Record<AudioCodesFormat, FormatPlan> = {
  "raw/lpcm16_24": {
    format: "raw/lpcm16_24",
    codec: "pcm16",
    sampleRate: 24000,
    bytesPerMs: 48,
    upstream: { type: "audio/pcm", rate: 24000 },
    passThrough: true,
  },
  "raw/mulaw": {
    format: "raw/mulaw",
    codec: "mulaw",
    sampleRate: 8000,
    bytesPerMs: 8,
    upstream: { type: "audio/pcmu" },
    passThrough: true,
  },
  "raw/alaw": {
    format: "raw/alaw",
    codec: "alaw",
    sampleRate: 8000,
    bytesPerMs: 8,
    upstream: { type: "audio/pcma" },
    passThrough: true,
  },
  "raw/lpcm16": {
    format: "raw/lpcm16",
    codec: "pcm16",
    sampleRate: 16000,
    bytesPerMs: 32,
    upstream: { type: "audio/pcm", rate: 24000 },
    passThrough: false,
  },
  "raw/lpcm16_8": {
    format: "raw/lpcm16_8",
    codec: "pcm16",
    sampleRate: 8000,
    bytesPerMs: 16,
    upstream: { type: "audio/pcm", rate: 24000 },
    passThrough: false,
  },
};

/** Returns the per-frame plan for a supported format. */
export function formatPlan(format: AudioCodesFormat): FormatPlan {
  return PLANS[format];
}

/** Narrows a string to a supported format. */
export function isAudioCodesFormat(value: string): value is AudioCodesFormat {
  return (AUDIOCODES_FORMATS as readonly string[]).includes(value);
}

/**
 * Picks the first format of our preference that VAIC offers (§4.2), or `undefined` when none is
 * usable. Offered identifiers are compared exactly, as they are protocol constants.
 */
export function chooseMediaFormat(
  offered: readonly string[],
  preference: readonly AudioCodesFormat[],
): AudioCodesFormat | undefined {
  return preference.find((format) => offered.includes(format));
}
