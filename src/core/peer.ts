/**
 * Who is on the other end of a request: the socket's remote address, or — behind a reverse proxy
 * that is trusted to set it — the last `X-Forwarded-For` hop (the address the proxy saw; earlier
 * hops are whatever the client wrote and cannot be trusted).
 */

/** The peer address of a request, for per-peer limits and logs. */
export function peerAddress(
  request: Request,
  options: { readonly remoteAddr?: Deno.Addr; readonly trustProxy: boolean },
): string {
  if (options.trustProxy) {
    const hops = (request.headers.get("x-forwarded-for") ?? "").split(",");
    const last = hops.at(-1)?.trim();
    if (last) return last.slice(0, 64);
  }
  const addr = options.remoteAddr;
  return addr !== undefined && "hostname" in addr ? addr.hostname : "unknown";
}

/** Counts live things per key (peer address, user id) with a cap. */
export class CountPerKey {
  readonly #counts = new Map<string, number>();

  /** Takes one for `key` if under `max`; false when the key is at its cap. */
  tryAcquire(key: string, max: number): boolean {
    const count = this.#counts.get(key) ?? 0;
    if (count >= max) return false;
    this.#counts.set(key, count + 1);
    return true;
  }

  /** Gives one back. */
  release(key: string): void {
    const count = this.#counts.get(key) ?? 0;
    if (count <= 1) this.#counts.delete(key);
    else this.#counts.set(key, count - 1);
  }

  /** How many `key` holds. */
  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /** Number of keys holding any. */
  get size(): number {
    return this.#counts.size;
  }
}

/**
 * Admission slots: live connections counted per key (a peer address, a user) against a cap —
 * on this instance ({@linkcode localSlots}) or across every instance of a cluster (the Redis
 * registry). `acquire` takes the slot before it resolves, so concurrent admissions never both
 * pass the last free slot; `release` gives it back.
 */
export interface Slots {
  /** Takes a slot of `key` if fewer than `cap` are held; resolves false (nothing taken) at the cap. */
  acquire(key: string, cap: number): Promise<boolean>;
  /** Gives back a slot taken with `acquire`. */
  release(key: string): void;
}

/** Slots counted on this instance only (no cluster). */
export function localSlots(): Slots {
  const counts = new CountPerKey();
  return {
    acquire: (key, cap) => Promise.resolve(counts.tryAcquire(key, cap)),
    release: (key) => counts.release(key),
  };
}
