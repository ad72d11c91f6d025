/** An agent that accepts a call and does nothing with it (no model attached). */
import type { AgentFactory, CallAgent } from "./conversation.ts";

/** Builds a {@linkcode CallAgent} that ignores everything. */
export const nullAgent: AgentFactory = (): CallAgent => ({
  audio() {},
  userStream() {},
  activity() {},
  detached() {},
  resumed() {},
  close: () => Promise.resolve(),
});
