/** A test agent that records what the conversation hands it. */
import type { AgentFactory, CallAgent, CallHandle } from "../../src/audiocodes/conversation.ts";
import type { Activity } from "../../src/protocol/audiocodes.ts";

/** What one recorded call received. */
export interface RecordedCall {
  handle: CallHandle;
  audio: string[];
  userStreams: { open: boolean; participant?: string }[];
  activities: Activity[];
  detached: number;
  resumed: number;
  closed: string | undefined;
}

/** An agent factory plus the calls it has built. */
export function recordingAgents(
  onActivity?: (call: RecordedCall, activity: Activity) => void,
): { agents: AgentFactory; calls: Map<string, RecordedCall> } {
  const calls = new Map<string, RecordedCall>();
  const agents: AgentFactory = (handle): CallAgent => {
    const call: RecordedCall = {
      handle,
      audio: [],
      userStreams: [],
      activities: [],
      detached: 0,
      resumed: 0,
      closed: undefined,
    };
    calls.set(handle.conversationId, call);
    return {
      audio: (chunk) => void call.audio.push(chunk),
      userStream: (open, participant) =>
        void call.userStreams.push(participant === undefined ? { open } : { open, participant }),
      activity: (activity) => {
        call.activities.push(activity);
        onActivity?.(call, activity);
      },
      detached: () => void call.detached++,
      resumed: () => void call.resumed++,
      close: (reason) => {
        call.closed = reason;
        return Promise.resolve();
      },
    };
  };
  return { agents, calls };
}
