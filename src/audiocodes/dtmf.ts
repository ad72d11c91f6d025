/**
 * The caller's keypad (DTMF, protocol doc §5.5): in `digit` mode each press is a turn of its
 * own; in `collect` mode digits gather until `#`, a full buffer (`MAX_DTMF_DIGITS`) or a pause
 * (`DTMF_TIMEOUT_MS`), and the entry becomes one turn.
 */
import type { Config } from "../config.ts";
import type { Clock, TimerId } from "../core/clock.ts";

/** What a {@linkcode DtmfCollector} is built from. */
export interface DtmfCollectorOptions {
  readonly config: Pick<Config, "MAX_DTMF_DIGITS" | "DTMF_MODE" | "DTMF_TIMEOUT_MS">;
  readonly clock: Clock;
  /** Digits collected before (a call taken over from another instance); default none. */
  readonly digits?: string;
  /** Tells the model what the caller keyed in. */
  readonly say: (text: string) => void;
  /** Saves the call's state (the digits still being collected are part of it). */
  readonly checkpoint: () => void;
}

/** Turns the caller's key presses into texts for the model, bounded in length. */
export class DtmfCollector {
  readonly #o: DtmfCollectorOptions;
  #digits: string;
  #timer: TimerId | undefined;

  constructor(options: DtmfCollectorOptions) {
    this.#o = options;
    this.#digits = options.digits ?? "";
  }

  /** The digits collected so far (for the call's snapshot). */
  get digits(): string {
    return this.#digits;
  }

  /** Takes the digits of one DTMF event; anything but `0-9 * # A-D` is dropped. */
  press(digits: string): void {
    const { config, clock } = this.#o;
    const max = config.MAX_DTMF_DIGITS;
    const clean = digits.slice(0, max * 4).replace(/[^0-9*#A-Da-d]/g, "").slice(0, max);
    if (!clean) return;
    if (config.DTMF_MODE === "digit") {
      this.#o.say(`The caller pressed ${clean} on the phone keypad.`);
      return;
    }
    this.#digits += clean;
    this.#o.checkpoint();
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const hash = this.#digits.indexOf("#");
    if (hash < 0 && this.#digits.length >= max) {
      // Bounded: a full buffer is an entry, as if # had been pressed.
      const entered = this.#digits.slice(0, max);
      this.#digits = "";
      this.#o.say(`The caller entered ${entered} on the phone keypad.`);
      return;
    }
    if (hash >= 0) {
      const entered = this.#digits.slice(0, hash);
      this.#digits = this.#digits.slice(hash + 1);
      this.#o.say(`The caller entered ${entered || "nothing"} followed by # on the phone keypad.`);
      return;
    }
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      const entered = this.#digits;
      this.#digits = "";
      if (entered) this.#o.say(`The caller entered ${entered} on the phone keypad.`);
    }, config.DTMF_TIMEOUT_MS);
  }

  /** Stops the pause timer; digits still collected are dropped with the call. */
  close(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
