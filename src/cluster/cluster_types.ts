/**
 * The types of the shared call registry (`CallCluster`): what it asks of the calls here, what a
 * claim answers, the cluster view, its options; and the small helpers its parts share.
 */
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { CallRecord } from "./call_record.ts";

/** The sorted set of live instances (score: heartbeat expiry); `<set>:<id>` hashes their counts. */
export const INSTANCES = "vg:instances";

/** What the registry asks of this instance's calls (the ConversationManager). */
export interface ClusterHost {
  /** The record of a live call here, built now; undefined when it is not here. */
  record(
    conversationId: string,
  ): { readonly record: CallRecord; readonly attached: boolean } | undefined;
  /** Another instance owns the call now: release it here, leaving the registry alone. */
  letGo(conversationId: string, reason: string): void;
  /** Live counts for the cluster view. */
  counts(): { readonly calls: number; readonly detached: number; readonly sessions: number };
}

/** The outcome of a claim for a resume. */
export type ClaimResult =
  | {
    readonly kind: "claimed";
    readonly fence: number;
    /** The record to continue from; undefined when it could not be read. */
    readonly record: CallRecord | undefined;
    /** The instance that owned the call before ("" when none did). */
    readonly previousOwner: string;
    /** This instance owned it before (or nobody did): a call still here is the one to resume. */
    readonly fromSelf: boolean;
  }
  | { readonly kind: "missing" }
  | { readonly kind: "attached"; readonly owner: string }
  | { readonly kind: "unavailable"; readonly detail: string };

/** One instance as the cluster view shows it. */
export interface InstanceInfo {
  readonly instance: string;
  readonly calls: number;
  readonly detached: number;
  readonly sessions: number;
  readonly startedAt: number;
}

/** The registry's state for `/health` and `/ready`. */
export interface ClusterView {
  readonly instance: string;
  readonly redis: "up" | "down";
  /** Live instances (heartbeats within the lease TTL), this one included; empty while down. */
  readonly instances: readonly InstanceInfo[];
  /** Phone calls across the cluster (the last heartbeat's sum). */
  readonly calls: number;
  /** Calls owned here (registered or waiting to be). */
  readonly owned: number;
  /** Calls whose record could not be written yet (Redis down, or an id held elsewhere). */
  readonly unregistered: number;
}

/** Registry operations, counted for metrics (`op`: put, claim, renew, release, heartbeat). */
export type RegistryOp =
  | "put"
  | "claim"
  | "renew"
  | "release"
  | "heartbeat"
  | "letgo"
  | "slot";

/** Options of a {@linkcode CallCluster}. */
export interface CallClusterOptions {
  /** `redis://` or `rediss://` URL. */
  readonly url: string;
  /** This instance's id (default: random). */
  readonly instanceId?: string;
  /** Owner lease TTL; renewed every third of it. */
  readonly leaseTtlMs: number;
  /** How long a resume waits for a live owner's lease to lapse before it is refused. */
  readonly resumeWaitMs: number;
  /** The resume grace period: a record outlives its owner's lease by this long. */
  readonly graceMs: number;
  /** One Redis command may take this long before it counts as failed (default 2000). */
  readonly commandTimeoutMs?: number;
  readonly clock: Clock;
  readonly log: Logger;
  /** Counts an operation and its outcome (metrics). */
  readonly onOp?: (op: RegistryOp, outcome: string) => void;
}

/** A script's reply as strings (one string, or an array of them). */
export function strings(reply: unknown): string[] {
  if (Array.isArray(reply)) return reply.map((v) => String(v));
  return reply === null || reply === undefined ? [] : [String(reply)];
}
