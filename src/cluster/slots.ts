/**
 * Admission slots across the cluster: live connections per key (a peer address, a user) counted
 * over every live instance against a cap. This instance keeps its own counts (the truth) and
 * mirrors them to its `vg:instances:<id>:slots` hash: on every change here, and whole at every
 * heartbeat (which also expires it with the instance), so it never drifts for long. An admission
 * is one Lua script that sums the live instances' counts and writes this one's in the same step:
 * two instances never both pass the last free slot. Redis away: counted on this instance only.
 */
import type { Slots } from "../core/peer.ts";
import type { RegistryOp } from "./cluster_types.ts";
import { INSTANCES, strings } from "./cluster_types.ts";
import { SLOT_ACQUIRE, SLOT_SET } from "./scripts.ts";

/** What the slots need of the registry's Redis connection. */
export interface SlotStore {
  readonly instanceId: string;
  /** How long a written count lives without a heartbeat (the lease TTL). */
  readonly ttlMs: number;
  /** Whether Redis answers now. */
  up(): boolean;
  /** Whether the registry is closed (nothing is admitted then). */
  closed(): boolean;
  /** Runs a script, failing after `timeoutMs`. */
  eval(script: string, keys: string[], args: string[], timeoutMs: number): Promise<unknown>;
  readonly onOp?: (op: RegistryOp, outcome: string) => void;
}

/**
 * Longest wait for Redis on an admission: a Redis that is connected but slow (paused, failing
 * over) must not hold a connection's upgrade; past this the local count decides.
 */
export const SLOT_TIMEOUT_MS = 250;

/** This instance's side of the cluster-wide connection caps. */
export class ClusterSlots implements Slots {
  readonly #store: SlotStore;
  readonly #counts = new Map<string, number>();

  constructor(store: SlotStore) {
    this.#store = store;
  }

  /**
   * Takes a slot of `key` if the cluster holds fewer than `cap` (this instance's count, taken at
   * once, plus every live instance's last written count). While Redis is away the cap is counted
   * on this instance only, and a slow Redis is waited for at most {@linkcode SLOT_TIMEOUT_MS}.
   */
  async acquire(key: string, cap: number): Promise<boolean> {
    const store = this.#store;
    if (store.closed()) return false;
    // Taken here first, synchronously: concurrent admissions on this instance see each other.
    const count = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, count);
    let allowed = count <= cap;
    if (allowed && store.up()) {
      try {
        const [status] = strings(
          await store.eval(SLOT_ACQUIRE, [INSTANCES], [
            store.instanceId,
            key,
            String(cap),
            String(count),
            String(store.ttlMs),
          ], SLOT_TIMEOUT_MS),
        );
        store.onOp?.("slot", status ?? "bad reply");
        allowed = status !== "full";
      } catch {
        // Redis went away: the local count decided.
        store.onOp?.("slot", "error");
      }
    }
    if (!allowed) this.release(key);
    return allowed;
  }

  /** Gives back a slot taken with {@linkcode acquire}. */
  release(key: string): void {
    const store = this.#store;
    const count = (this.#counts.get(key) ?? 0) - 1;
    if (count <= 0) this.#counts.delete(key);
    else this.#counts.set(key, count);
    if (!store.up() || store.closed()) return;
    // Written in order with later acquisitions and heartbeats (one connection, in order), so a
    // heartbeat that counted this slot while it was being taken is corrected too.
    store.eval(SLOT_SET, [INSTANCES], [
      store.instanceId,
      key,
      String(Math.max(0, count)),
      String(store.ttlMs),
    ], SLOT_TIMEOUT_MS).catch(() => store.onOp?.("slot", "error"));
  }

  /** This instance's counts as `key, count` pairs, for the heartbeat. */
  pairs(): string[] {
    return [...this.#counts].flatMap(([key, count]) => [key, String(count)]);
  }
}
