/**
 * Sound synthesis for the local engine's replies: a greeting chime and a soft, voice-like babble
 * (a glottal pulse train through vowel formant filters, shaped into syllables). Pure functions:
 * same arguments, same samples.
 */

/** Vowel formants (Hz) the babble cycles through: /a/, /e/, /o/, /i/, /u/. */
const VOWELS: readonly (readonly [number, number, number])[] = [
  [730, 1090, 2440],
  [530, 1840, 2480],
  [570, 840, 2410],
  [390, 1990, 2550],
  [440, 1020, 2240],
];

/** Samples of `ms` milliseconds at `rate` Hz. */
export function samplesFor(ms: number, rate: number): number {
  return Math.max(0, Math.round((ms * rate) / 1000));
}

/**
 * A two-note chime (C5 then G5, bell-like envelopes), about 0.8 s long: the greeting sound.
 */
export function chime(rate: number, gain = 0.3): Int16Array<ArrayBuffer> {
  const out = new Int16Array(samplesFor(800, rate));
  const notes = [
    { hz: 523.25, startMs: 0, ms: 450 },
    { hz: 783.99, startMs: 300, ms: 500 },
  ];
  for (const note of notes) {
    const start = samplesFor(note.startMs, rate);
    const length = Math.min(samplesFor(note.ms, rate), out.length - start);
    for (let i = 0; i < length; i++) {
      const t = i / rate;
      // 8 ms attack, exponential decay: a soft bell.
      const envelope = Math.min(1, t / 0.008) * Math.exp(-t * 6);
      const tone = Math.sin(2 * Math.PI * note.hz * t) +
        0.25 * Math.sin(2 * Math.PI * note.hz * 2 * t) +
        0.08 * Math.sin(2 * Math.PI * note.hz * 3 * t);
      const index = start + i;
      out[index] = clamp16((out[index] ?? 0) + tone * envelope * gain * 32767 * 0.75);
    }
  }
  return out;
}

/**
 * Voice-like babble of `ms` milliseconds: syllables of about 180 ms with short gaps, a gently
 * gliding pitch around `pitchHz`, vowel formants. WebRTC VAD classifies it as speech.
 */
export function babble(
  ms: number,
  rate: number,
  options: { gain?: number; pitchHz?: number; seed?: number } = {},
): Int16Array<ArrayBuffer> {
  const gain = options.gain ?? 0.25;
  const pitch = options.pitchHz ?? 140;
  const seed = options.seed ?? 0;
  const out = new Int16Array(samplesFor(ms, rate));
  const syllable = samplesFor(180, rate);
  const gap = samplesFor(40, rate);
  const period = syllable + gap;
  // Resonator state for three formants.
  const y1 = [0, 0, 0];
  const y2 = [0, 0, 0];
  let phase = 0;
  let peak = 1e-9;
  const raw = new Float64Array(out.length);
  for (let i = 0; i < out.length; i++) {
    const s = Math.floor(i / period);
    const inSyllable = i % period;
    const vowel = VOWELS[(s + seed) % VOWELS.length]!;
    const t = i / rate;
    const f0 = pitch *
      (1 + 0.08 * Math.sin(2 * Math.PI * 0.7 * t + seed) - 0.05 * (inSyllable / period));
    phase += f0 / rate;
    let excitation = 0;
    if (phase >= 1) {
      phase -= 1;
      excitation = 1;
    }
    let sample = 0;
    for (let f = 0; f < 3; f++) {
      const bandwidth = 80 + f * 40;
      const r = Math.exp((-Math.PI * bandwidth) / rate);
      const theta = (2 * Math.PI * vowel[f]!) / rate;
      const y = (1 - r) * excitation + 2 * r * Math.cos(theta) * y1[f]! - r * r * y2[f]!;
      y2[f] = y1[f]!;
      y1[f] = y;
      sample += y / (f + 1);
    }
    let envelope = 0;
    if (inSyllable < syllable) {
      const x = inSyllable / syllable;
      envelope = Math.sin(Math.PI * x) ** 0.6;
    }
    raw[i] = sample * envelope;
    if (Math.abs(raw[i]!) > peak) peak = Math.abs(raw[i]!);
  }
  const scale = (gain * 32767) / peak;
  for (let i = 0; i < out.length; i++) out[i] = clamp16(raw[i]! * scale);
  return out;
}

function clamp16(value: number): number {
  return value > 32767 ? 32767 : value < -32768 ? -32768 : Math.round(value);
}
