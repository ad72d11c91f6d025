/**
 * The contract between the gateway server and the optional parts it mounts (the local engine, the
 * user API, the page), so that those parts need not import the server.
 */

/** A route-level handler mounted by an optional part of the gateway (engine, user API, page). */
export interface Mount {
  /** Answers the request, or returns undefined when the path is not its own. */
  handle(
    request: Request,
    info: { remoteAddr?: Deno.Addr },
  ): Response | Promise<Response> | undefined;
  /** Live connection counts for `/health`. */
  stats?(): Record<string, unknown>;
  /** Live sessions that a drain waits for. */
  active?(): number;
  /** The end of a drain: tell each live session why it ends, then close it (1001). */
  shutdown?(): Promise<void>;
  close?(): Promise<void>;
}
