/**
 * The shared call registry on Redis (`REDIS_URL`): call records written at call start and turn
 * boundaries (never per frame), an owner lease per call renewed by one timer per instance, atomic
 * claims for resumes on another instance, a "let go" message to the previous owner, and the
 * cluster view (instances and their counts) for `/health`, `/ready` and the cluster call cap.
 *
 * Redis is never on a call's audio path, and its loss never ends a call: writes that fail are
 * written again once Redis is back, with everything the live calls hold in memory.
 */
import { createClient } from "@redis/client";
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { Slots } from "../core/peer.ts";
import { decodeRecord, encodeRecord } from "./call_record.ts";
import type {
  CallClusterOptions,
  ClaimResult,
  ClusterHost,
  ClusterView,
  InstanceInfo,
} from "./cluster_types.ts";
import { INSTANCES, strings } from "./cluster_types.ts";
import { CLAIM, HEARTBEAT, LEAVE, PUT, RELEASE, RENEW } from "./scripts.ts";
import { ClusterSlots } from "./slots.ts";

export type {
  CallClusterOptions,
  ClaimResult,
  ClusterHost,
  ClusterView,
  InstanceInfo,
  RegistryOp,
} from "./cluster_types.ts";

interface Owned {
  /** 0 until the first write succeeded. */
  fence: number;
  registered: boolean;
  /** Another instance held the id when this call began here: not written (not resumable). */
  conflict: boolean;
  writing: boolean;
  dirty: boolean;
}

type Client = ReturnType<typeof createClient>;

const callKey = (id: string) => `vg:{${id}}:call`;
const leaseKey = (id: string) => `vg:{${id}}:lease`;
const letGoChannel = (instance: string) => `vg:letgo:${instance}`;

/**
 * The Redis-backed registry of one gateway instance. It is also the cluster's admission
 * {@linkcode Slots}: per-peer and per-user connection caps counted over every live instance.
 */
export class CallCluster implements AsyncDisposable, Slots {
  readonly instanceId: string;
  readonly #options: CallClusterOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #client: Client;
  readonly #subscriber: Client;
  readonly #owned = new Map<string, Owned>();
  /** This instance's admission slots (the truth its `:slots` hash in Redis mirrors). */
  readonly #slots: ClusterSlots;
  readonly #abort = new AbortController();
  readonly #startedAt: number;
  #host: ClusterHost | undefined;
  #up = false;
  #instances: InstanceInfo[] = [];
  #tickTimer: TimerId | undefined;
  #ticking: Promise<void> | undefined;
  #closed = false;
  /** Pending waits (command timeouts, claim retries), cleared on close. */
  readonly #timers = new Set<TimerId>();

  constructor(options: CallClusterOptions) {
    this.#options = options;
    this.#clock = options.clock;
    this.instanceId = options.instanceId ?? crypto.randomUUID().slice(0, 12);
    this.#log = options.log.child({ part: "cluster", instance: this.instanceId });
    this.#startedAt = options.clock.now();
    this.#slots = new ClusterSlots({
      instanceId: this.instanceId,
      ttlMs: options.leaseTtlMs,
      up: () => this.up,
      closed: () => this.#closed,
      eval: (script, keys, args, timeoutMs) => this.#eval(script, keys, args, timeoutMs),
      ...(options.onOp ? { onOp: options.onOp } : {}),
    });
    const reconnectStrategy = (retries: number): number =>
      // Backoff with jitter: 100 ms doubling to 2 s, so a Redis restart is noticed quickly.
      Math.round(Math.min(2000, 100 * 2 ** Math.min(retries, 5)) * (0.5 + Math.random() / 2));
    this.#client = createClient({
      url: options.url,
      // Commands fail at once while Redis is away: calls never wait for it.
      disableOfflineQueue: true,
      socket: { reconnectStrategy, connectTimeout: options.commandTimeoutMs ?? 2000 },
    });
    this.#subscriber = this.#client.duplicate();
    for (
      const [client, name] of [[this.#client, "commands"], [this.#subscriber, "pubsub"]] as const
    ) {
      let reported = false;
      client.on("error", (error: unknown) => {
        // Reported once per outage: the client retries by itself.
        if (reported) return;
        reported = true;
        this.#log.warn({ connection: name, err: String(error) }, "Redis unreachable; retrying");
      });
      client.on("ready", () => {
        reported = false;
        if (client === this.#client) this.#onReady();
      });
      client.on("end", () => {
        if (client === this.#client) this.#up = false;
      });
      client.on("reconnecting", () => {
        if (client === this.#client && this.#up) {
          this.#up = false;
          this.#log.warn({}, "Redis connection lost; live calls go on, reconnecting");
        }
      });
    }
  }

  /** Binds the calls of this instance (done once, by the gateway). */
  bind(host: ClusterHost): void {
    this.#host = host;
  }

  /** Connects in the background (start-up never waits for Redis) and starts the heartbeat. */
  start(): void {
    for (const client of [this.#client, this.#subscriber]) {
      client.connect().catch((error: unknown) => {
        if (!this.#closed) this.#log.warn({ err: String(error) }, "Redis connect failed");
      });
    }
    void this.#subscriber.subscribe(
      letGoChannel(this.instanceId),
      (message: string) => this.#onLetGo(message),
    ).catch(() => {
      // Subscribed again by the client once connected.
    });
    this.#schedule(0);
  }

  /** Whether Redis answers. */
  get up(): boolean {
    return this.#up && this.#client.isReady;
  }

  /** This instance and the cluster as of the last heartbeat. */
  get view(): ClusterView {
    const up = this.up;
    const instances = up ? this.#instances : [];
    const others = instances.filter((i) => i.instance !== this.instanceId);
    const here = this.#host?.counts() ?? { calls: 0, detached: 0, sessions: 0 };
    let unregistered = 0;
    for (const entry of this.#owned.values()) if (!entry.registered) unregistered++;
    return {
      instance: this.instanceId,
      redis: up ? "up" : "down",
      instances,
      calls: here.calls + others.reduce((n, i) => n + i.calls, 0),
      owned: this.#owned.size,
      unregistered,
    };
  }

  // ---- the calls of this instance ----

  /** A call began here: register it (the write happens after the current event). */
  opened(conversationId: string): void {
    if (this.#closed) return;
    this.#owned.set(conversationId, {
      fence: 0,
      registered: false,
      conflict: false,
      writing: false,
      dirty: false,
    });
    this.checkpoint(conversationId);
  }

  /** A turn boundary (or a detach, a resume): write the call's record. Coalesced per call. */
  checkpoint(conversationId: string): void {
    const entry = this.#owned.get(conversationId);
    if (!entry || entry.conflict || this.#closed) return;
    if (entry.writing) {
      entry.dirty = true;
      return;
    }
    entry.writing = true;
    entry.dirty = true;
    // After the current event: the record then holds everything it changed.
    queueMicrotask(() => void this.#flush(conversationId, entry));
  }

  /** The call ended here (`handedOver`: another instance owns it now; its record stays). */
  released(conversationId: string, handedOver: boolean): void {
    const entry = this.#owned.get(conversationId);
    this.#owned.delete(conversationId);
    if (!entry || handedOver || entry.fence === 0 || this.#closed) return;
    void this.#eval(RELEASE, [callKey(conversationId), leaseKey(conversationId)], [
      this.instanceId,
      String(entry.fence),
    ]).then((status) => this.#options.onOp?.("release", String(status)), () => {
      // The record expires with its TTL (lease TTL + grace).
      this.#options.onOp?.("release", "error");
    });
  }

  /**
   * Claims a call for a resume on this instance. While its owner is alive with the socket open,
   * waits up to `resumeWaitMs` for the lease to lapse (the owner may be dead, or about to notice
   * its socket closed), then reports `attached`.
   */
  async claim(conversationId: string): Promise<ClaimResult> {
    const { leaseTtlMs, resumeWaitMs } = this.#options;
    const deadline = this.#clock.monotonic() + resumeWaitMs;
    while (true) {
      if (this.#closed) return { kind: "unavailable", detail: "shutting down" };
      let reply: unknown;
      try {
        reply = await this.#eval(CLAIM, [callKey(conversationId), leaseKey(conversationId)], [
          this.instanceId,
          String(leaseTtlMs),
          String(this.#recordTtl()),
        ]);
      } catch (error) {
        this.#options.onOp?.("claim", "error");
        return { kind: "unavailable", detail: String(error) };
      }
      const [status, a = "", b = "", c = ""] = strings(reply);
      this.#options.onOp?.("claim", status ?? "bad reply");
      if (status === "missing") return { kind: "missing" };
      if (status === "claimed") {
        const fence = Number(a);
        const previousOwner = b;
        this.#owned.set(conversationId, {
          fence,
          registered: true,
          conflict: false,
          writing: false,
          dirty: false,
        });
        if (previousOwner && previousOwner !== this.instanceId) {
          const message = JSON.stringify({ conversationId, fence, by: this.instanceId });
          this.#client.publish(letGoChannel(previousOwner), message).then(
            () => this.#options.onOp?.("letgo", "sent"),
            () => this.#options.onOp?.("letgo", "error"),
          );
        }
        return {
          kind: "claimed",
          fence,
          record: decodeRecord(c),
          previousOwner,
          fromSelf: previousOwner === "" || previousOwner === this.instanceId,
        };
      }
      if (status !== "attached") return { kind: "unavailable", detail: "unexpected reply" };
      const left = deadline - this.#clock.monotonic();
      if (left <= 0) return { kind: "attached", owner: a };
      // Ask again when the lease would lapse, or sooner: the owner may release it first.
      const pttl = Number(b) || leaseTtlMs;
      await this.#sleep(Math.max(20, Math.min(left, pttl + 10, 250)));
    }
  }

  // ---- admission slots (cluster-wide connection caps) ----

  /**
   * Takes a slot of `key` if the cluster holds fewer than `cap`; while Redis is away, if this
   * instance does (see {@linkcode ClusterSlots.acquire}).
   */
  acquire(key: string, cap: number): Promise<boolean> {
    return this.#slots.acquire(key, cap);
  }

  /** Gives back a slot taken with {@linkcode acquire}. */
  release(key: string): void {
    this.#slots.release(key);
  }

  // ---- internals ----

  #recordTtl(): number {
    return this.#options.leaseTtlMs + this.#options.graceMs;
  }

  async #flush(conversationId: string, entry: Owned): Promise<void> {
    try {
      while (entry.dirty && !this.#closed && this.#owned.get(conversationId) === entry) {
        entry.dirty = false;
        const built = this.#host?.record(conversationId);
        if (!built) return;
        let reply: unknown;
        try {
          reply = await this.#eval(PUT, [callKey(conversationId), leaseKey(conversationId)], [
            this.instanceId,
            String(entry.fence),
            encodeRecord(built.record),
            built.attached ? "1" : "0",
            String(this.#options.leaseTtlMs),
            String(this.#recordTtl()),
            entry.registered ? "update" : "new",
          ]);
        } catch {
          // Redis is away: written again once it is back (#onReady).
          this.#options.onOp?.("put", "error");
          return;
        }
        const [status, fence] = strings(reply);
        this.#options.onOp?.("put", status ?? "bad reply");
        if (this.#owned.get(conversationId) !== entry) return;
        if (status === "ok") {
          entry.fence = Number(fence);
          entry.registered = true;
        } else if (status === "lost") {
          this.#owned.delete(conversationId);
          this.#host?.letGo(conversationId, "resumed on another instance");
          return;
        } else if (status === "conflict") {
          entry.conflict = true;
          this.#log.warn(
            { conversationId },
            "Call not registered: another instance holds a live call with this id",
          );
          return;
        }
      }
    } finally {
      entry.writing = false;
    }
  }

  #onReady(): void {
    const wasUp = this.#up;
    this.#up = true;
    if (!wasUp) this.#log.info({ calls: this.#owned.size }, "Redis connected");
    // Everything the live calls hold is written again: after an outage the records may be stale
    // or, after a restart without persistence, gone.
    for (const id of this.#owned.keys()) this.checkpoint(id);
    this.#schedule(0);
  }

  #onLetGo(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof parsed !== "object" || parsed === null) return;
    const { conversationId, fence } = parsed as Record<string, unknown>;
    if (typeof conversationId !== "string" || typeof fence !== "number") return;
    const entry = this.#owned.get(conversationId);
    if (!entry || entry.fence >= fence) return;
    this.#options.onOp?.("letgo", "received");
    this.#owned.delete(conversationId);
    this.#host?.letGo(conversationId, "resumed on another instance");
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    if (this.#tickTimer !== undefined) this.#clock.clearTimeout(this.#tickTimer);
    this.#tickTimer = this.#clock.setTimeout(() => {
      this.#tickTimer = undefined;
      if (this.#ticking) return;
      this.#ticking = this.#tick().finally(() => {
        this.#ticking = undefined;
        this.#schedule(Math.max(50, Math.floor(this.#options.leaseTtlMs / 3)));
      });
    }, ms);
  }

  /** One tick: publish counts and read the cluster (heartbeat), renew every lease held here. */
  async #tick(): Promise<void> {
    if (!this.#client.isReady) return;
    // The heartbeat first: after a reconnect it rewrites this instance's counts (the cluster's
    // caps read them) before the leases are renewed.
    await this.#heartbeat();
    await this.#renew();
  }

  /** Renews the lease of every call registered here, in one script. */
  async #renew(): Promise<void> {
    const ids = [...this.#owned].filter(([, e]) => e.registered && e.fence > 0);
    if (ids.length > 0) {
      try {
        const keys = ids.flatMap(([id]) => [callKey(id), leaseKey(id)]);
        const reply = strings(
          await this.#eval(RENEW, keys, [
            this.instanceId,
            String(this.#options.leaseTtlMs),
            String(this.#recordTtl()),
            ...ids.map(([, e]) => String(e.fence)),
          ]),
        );
        this.#options.onOp?.("renew", "ok");
        ids.forEach(([id, entry], i) => {
          if (this.#owned.get(id) !== entry) return;
          if (reply[i] === "lost") {
            this.#owned.delete(id);
            this.#host?.letGo(id, "resumed on another instance");
          } else if (reply[i] === "missing") {
            this.checkpoint(id);
          }
        });
      } catch {
        this.#options.onOp?.("renew", "error");
      }
    }
  }

  /** Publishes this instance's counts and slots, and reads the cluster view. */
  async #heartbeat(): Promise<void> {
    try {
      const counts = this.#host?.counts() ?? { calls: 0, detached: 0, sessions: 0 };
      const reply = strings(
        await this.#eval(HEARTBEAT, [INSTANCES], [
          this.instanceId,
          String(this.#options.leaseTtlMs),
          String(counts.calls),
          String(counts.detached),
          String(counts.sessions),
          String(this.#startedAt),
          ...this.#slots.pairs(),
        ]),
      );
      const instances: InstanceInfo[] = [];
      for (let i = 0; i + 4 < reply.length; i += 5) {
        instances.push({
          instance: reply[i]!,
          calls: Number(reply[i + 1]),
          detached: Number(reply[i + 2]),
          sessions: Number(reply[i + 3]),
          startedAt: Number(reply[i + 4]),
        });
      }
      this.#instances = instances;
      this.#options.onOp?.("heartbeat", "ok");
    } catch {
      this.#options.onOp?.("heartbeat", "error");
    }
  }

  async #eval(
    script: string,
    keys: string[],
    args: string[],
    timeoutMs = this.#options.commandTimeoutMs ?? 2000,
  ): Promise<unknown> {
    const command = this.#client.sendCommand([
      "EVAL",
      script,
      String(keys.length),
      ...keys,
      ...args,
    ]);
    let timer: TimerId | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(
        () => reject(new Error("Redis command timed out")),
        timeoutMs,
      );
      this.#timers.add(timer);
    });
    try {
      return await Promise.race([command, timeout]);
    } finally {
      if (timer !== undefined) {
        this.#clock.clearTimeout(timer);
        this.#timers.delete(timer);
      }
      command.catch(() => {});
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#timers.delete(timer);
        this.#abort.signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        this.#clock.clearTimeout(timer);
        this.#timers.delete(timer);
        resolve();
      };
      this.#timers.add(timer);
      this.#abort.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Leaves the cluster view and closes both Redis connections. Records of calls still here stay. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    if (this.#tickTimer !== undefined) this.#clock.clearTimeout(this.#tickTimer);
    this.#tickTimer = undefined;
    await this.#ticking;
    if (this.#client.isReady) {
      try {
        await this.#eval(LEAVE, [INSTANCES], [this.instanceId]);
      } catch {
        // Its heartbeat lapses by itself.
      }
    }
    for (const timer of this.#timers) this.#clock.clearTimeout(timer);
    this.#timers.clear();
    for (const client of [this.#subscriber, this.#client]) {
      try {
        if (client.isOpen) await client.close();
        else client.destroy();
      } catch {
        try {
          client.destroy();
        } catch { /* closed */ }
      }
    }
    this.#up = false;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
