/**
 * The router of pure handlers keyed by message type, shared by every protocol we serve (the
 * AudioCodes Bot API, the user realtime API, the Bridge's leg events): a map with one handler
 * per `type`, exhaustive by construction (`satisfies Handlers<…>`), and {@linkcode dispatch},
 * the one place where a union of messages meets its map.
 */

/** A message named by its `type`. */
export interface Typed {
  readonly type: string;
}

/** The member of the union `M` whose `type` is `K`. */
export type MessageOf<M extends Typed, K extends M["type"]> = Extract<M, { readonly type: K }>;

/**
 * One pure handler per message type: `(state, message, ctx) => R`. A type of `M` left out, or a
 * key `M` does not have, fails to compile. Stateless maps (events to wire messages) take `void`.
 */
export type Handlers<M extends Typed, S, C, R> = {
  readonly [K in M["type"]]: (state: S, message: MessageOf<M, K>, ctx: C) => R;
};

/** Calls the handler of `message.type` with the state and context. */
export function dispatch<M extends Typed, S, C, R>(
  handlers: Handlers<M, S, C, R>,
  input: { readonly state: S; readonly message: M; readonly ctx: C },
): R {
  // The one cast of the router: the map is exhaustive (`satisfies Handlers<…>` at each map), so
  // the handler found for `message.type` takes exactly that member of the union.
  const handler = handlers[input.message.type as M["type"]] as (
    state: S,
    message: M,
    ctx: C,
  ) => R;
  return handler(input.state, input.message, input.ctx);
}

/** What a pure handler returns: the next state and the effects for its shell to run. */
export interface HandlerResult<S, E> {
  readonly state: S;
  readonly effects: readonly E[];
}

/** An effect every shell runs: a line in the connection's (bounded) log. */
export interface LogEffect {
  readonly type: "log";
  readonly level: "debug" | "info" | "warn";
  readonly message: string;
  readonly fields?: Readonly<Record<string, unknown>>;
}

/** The state unchanged, with these effects. */
export function same<S, E>(state: S, ...effects: E[]): HandlerResult<S, E> {
  return { state, effects };
}
