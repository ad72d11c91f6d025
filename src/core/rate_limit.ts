/**
 * A per-connection message rate limit: a token bucket holding one second of burst, refilled at
 * `perSecond` tokens a second. Pure: the caller passes the time.
 */

/** The state of one bucket. */
export interface Bucket {
  readonly tokens: number;
  /** Monotonic milliseconds of the last refill. */
  readonly at: number;
}

/** A full bucket at time `now`. */
export function fullBucket(perSecond: number, now: number): Bucket {
  if (!(perSecond > 0)) throw new RangeError(`Cannot create bucket: rate ${perSecond} is not > 0`);
  return { tokens: perSecond, at: now };
}

/** Takes one token if there is one; returns the new bucket and whether the message may pass. */
export function take(
  bucket: Bucket,
  options: { perSecond: number; now: number },
): { bucket: Bucket; allowed: boolean } {
  const { perSecond, now } = options;
  const elapsed = Math.max(0, now - bucket.at);
  const tokens = Math.min(perSecond, bucket.tokens + (elapsed * perSecond) / 1000);
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, at: now }, allowed: true };
  return { bucket: { tokens, at: now }, allowed: false };
}
