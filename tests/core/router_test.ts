import assert from "node:assert/strict";
import type { HandlerResult, Handlers } from "../../src/core/router.ts";
import { dispatch, same } from "../../src/core/router.ts";

type Message =
  | { readonly type: "add"; readonly n: number }
  | { readonly type: "reset" };

const handlers = {
  add: (state, message, ctx) => same(state + message.n * ctx.factor, `added ${message.n}`),
  reset: (_state, _message, _ctx) => ({ state: 0, effects: ["reset"] }),
} satisfies Handlers<Message, number, { factor: number }, HandlerResult<number, string>>;

const add: Message = { type: "add", n: 2 };
const reset: Message = { type: "reset" };

Deno.test("dispatch() calls the handler of the message's type with state and context", () => {
  assert.deepEqual(
    dispatch(handlers, { state: 1, message: add, ctx: { factor: 10 } }),
    { state: 21, effects: ["added 2"] },
  );
  assert.deepEqual(
    dispatch(handlers, { state: 21, message: reset, ctx: { factor: 10 } }),
    { state: 0, effects: ["reset"] },
  );
});

Deno.test("Handlers<> is exhaustive: a type left out fails to compile", () => {
  // @ts-expect-error: "reset" has no handler.
  const partial: Handlers<Message, number, void, number> = { add: (s) => s };
  assert.equal(typeof partial.add, "function");
});
