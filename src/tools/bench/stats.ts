/**
 * Latency samples and their percentiles for the benchmark. Samples are kept raw (a growable
 * `Float64Array`), so percentiles are exact nearest-rank values, not histogram estimates.
 */

/** Percentiles of a set of samples, in the samples' unit (milliseconds for latencies). */
export interface Summary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** The summary of no samples: a count of 0 and zeros elsewhere, so JSON stays numeric. */
export const EMPTY_SUMMARY: Summary = { count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };

/** A growable list of numbers. */
export class Samples {
  #values = new Float64Array(256);
  #count = 0;

  /** Adds one sample. */
  push(value: number): void {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count++] = value;
  }

  /** Adds every sample of `other`. */
  pushAll(other: Samples): void {
    for (const value of other.values()) this.push(value);
  }

  /** Number of samples. */
  get count(): number {
    return this.#count;
  }

  /** A view of the samples (valid until the next push). */
  values(): Float64Array {
    return this.#values.subarray(0, this.#count);
  }

  /** Percentiles of the samples. */
  summary(): Summary {
    return summarize(this.values());
  }
}

/** Nearest-rank percentile of sorted values (`p` in 0–100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Summarises values (not modified: a sorted copy is made). */
export function summarize(values: ArrayLike<number>): Summary {
  if (values.length === 0) return EMPTY_SUMMARY;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  };
}

/** Rounds every number of a summary to `digits` decimals (for JSON and tables). */
export function rounded(summary: Summary, digits = 3): Summary {
  const f = 10 ** digits;
  const r = (v: number) => Math.round(v * f) / f;
  return {
    count: summary.count,
    p50: r(summary.p50),
    p95: r(summary.p95),
    p99: r(summary.p99),
    max: r(summary.max),
    mean: r(summary.mean),
  };
}

/**
 * Timestamped samples tagged with the number of live calls when they were taken, so the report
 * can cut a steady-state window and plot latency against concurrency.
 */
export class Series {
  #at = new Float64Array(1024);
  #value = new Float64Array(1024);
  #live = new Uint32Array(1024);
  #count = 0;

  /** Adds one sample taken at `at` (ms) while `live` calls were up. */
  push(at: number, value: number, live: number): void {
    if (this.#count === this.#at.length) {
      const size = this.#at.length * 2;
      const at2 = new Float64Array(size), value2 = new Float64Array(size);
      const live2 = new Uint32Array(size);
      at2.set(this.#at);
      value2.set(this.#value);
      live2.set(this.#live);
      this.#at = at2;
      this.#value = value2;
      this.#live = live2;
    }
    this.#at[this.#count] = at;
    this.#value[this.#count] = value;
    this.#live[this.#count] = live;
    this.#count++;
  }

  /** Number of samples. */
  get count(): number {
    return this.#count;
  }

  /** Values of the samples taken within `[from, to]`. */
  between(from: number, to: number): Float64Array {
    const out = new Float64Array(this.#count);
    let n = 0;
    for (let i = 0; i < this.#count; i++) {
      const at = this.#at[i]!;
      if (at >= from && at <= to) out[n++] = this.#value[i]!;
    }
    return out.subarray(0, n);
  }

  /** All values. */
  values(): Float64Array {
    return this.#value.subarray(0, this.#count);
  }

  /** Values grouped by live-call count into `bins` equal ranges of `1..maxLive`. */
  byLive(maxLive: number, bins: number): { readonly upTo: number; readonly values: number[] }[] {
    const width = Math.max(1, Math.ceil(maxLive / bins));
    const groups: { upTo: number; values: number[] }[] = [];
    for (let upTo = width; upTo < maxLive + width; upTo += width) {
      groups.push({ upTo: Math.min(upTo, maxLive), values: [] });
    }
    for (let i = 0; i < this.#count; i++) {
      const live = Math.max(1, this.#live[i]!);
      const group = groups[Math.min(groups.length - 1, Math.floor((live - 1) / width))];
      group?.values.push(this.#value[i]!);
    }
    return groups;
  }
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
