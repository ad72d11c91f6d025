/**
 * The contract between the gateway server and the optional parts it mounts (the local engine, the
 * user API, the page), so that those parts need not import the server.
 */
import type { Route } from "./route.ts";

/** An optional part of the gateway (engine, user API, page): its routes and its lifetime. */
export interface Mount {
  /** Its routes, tried in order after the gateway's own. */
  readonly routes: readonly Route[];
  /** Live connection counts for `/health`. */
  stats?(): Record<string, unknown>;
  /** Live sessions that a drain waits for. */
  active?(): number;
  /** The end of a drain: tell each live session why it ends, then close it (1001). */
  shutdown?(): Promise<void>;
  close?(): Promise<void>;
}
