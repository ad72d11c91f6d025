/**
 * The live set of agent profiles: read from `AGENTS_FILE` at start (a bad file stops start-up with
 * the field named), then re-read when the file changes. New calls get the new profiles; live calls
 * keep the profile they started with. A bad edit is logged and the previous set stays.
 */
import type { Config } from "../config.ts";
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { ProfileSet } from "./profile.ts";
import { defaultProfile, parseAgentsFile, profileSet } from "./profile.ts";

/** Where profiles come from. */
export interface ProfileStore {
  /** The profiles in force now. */
  readonly current: ProfileSet;
  /** Stops watching the file (waits for a check under way). */
  close(): Promise<void>;
}

/** Options of {@linkcode openProfileStore}. */
export interface ProfileStoreOptions {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly env: (name: string) => string | undefined;
}

/** A store holding only the environment's default profile. */
export function staticProfiles(config: Config): ProfileStore {
  const set = profileSet([], defaultProfile(config));
  return { current: set, close: () => Promise.resolve() };
}

/**
 * Opens the store: with `AGENTS_FILE` unset, the default profile only; else the file, checked
 * every `AGENTS_RELOAD_MS` for changes. Fails with one line per problem.
 */
export async function openProfileStore(
  options: ProfileStoreOptions,
): Promise<{ ok: true; store: ProfileStore } | { ok: false; error: string }> {
  const { config, clock, log } = options;
  const path = config.AGENTS_FILE;
  if (path === undefined) return { ok: true, store: staticProfiles(config) };
  const read = async (): Promise<
    { ok: true; set: ProfileSet; stamp: string } | { ok: false; error: string }
  > => {
    let text: string;
    let stamp: string;
    try {
      const info = await Deno.stat(path);
      stamp = `${info.mtime?.getTime() ?? 0}:${info.size}`;
      text = await Deno.readTextFile(path);
    } catch (error) {
      return {
        ok: false,
        error: `Cannot read agents file ${path}: ${error instanceof Error ? error.message : error}`,
      };
    }
    const parsed = parseAgentsFile(text, { path, config, env: options.env });
    return parsed.ok ? { ok: true, set: parsed.set, stamp } : parsed;
  };
  const first = await read();
  if (!first.ok) return first;
  let current = first.set;
  let stamp = first.stamp;
  let timer: TimerId | undefined;
  let closed = false;
  let inflight: Promise<void> | undefined;
  const check = async (): Promise<void> => {
    timer = undefined;
    try {
      const info = await Deno.stat(path);
      const now = `${info.mtime?.getTime() ?? 0}:${info.size}`;
      if (now !== stamp && !closed) {
        const next = await read();
        if (next.ok) {
          current = next.set;
          stamp = next.stamp;
          log.info({ path, profiles: next.set.profiles.length }, "Agents file reloaded");
        } else {
          stamp = now;
          log.error({ path, error: next.error }, "Kept the previous agents: the new file is bad");
        }
      }
    } catch (error) {
      log.warn({ path, error: String(error) }, "Cannot check the agents file");
    }
    if (!closed) arm();
  };
  const arm = (): void => {
    timer = clock.setTimeout(() => {
      inflight = check().finally(() => inflight = undefined);
    }, config.AGENTS_RELOAD_MS);
  };
  arm();
  log.info({ path, profiles: current.profiles.length }, "Agents file loaded");
  return {
    ok: true,
    store: {
      get current() {
        return current;
      },
      async close() {
        closed = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        timer = undefined;
        await inflight;
      },
    },
  };
}
