/** The simulator's counters, read through Simulator.stats(). */

export interface SimulatorStats {
  /** Requests received (any route). */
  requests: number;
  /** Requests per route key, e.g. 'POST /v1/chat/completions', 'GET /v1/models/{id}', 'other'. */
  byRoute: Record<string, number>;
  /** Replies per HTTP status; 'none' when the connection closed before any status was sent. */
  byStatus: Record<string, number>;
  /** Faults injected per fault name. */
  byFault: Record<string, number>;
  tokens: {
    /** Prompt tokens of the requests that were answered (or started streaming). */
    prompt: number;
    /** Completion tokens actually written to clients (a stream cut short counts what was sent). */
    completion: number;
  };
  streams: {
    started: number;
    /** Ended with the usual end (whether or not a fault dropped [DONE] / usage). */
    completed: number;
    /** The client went away before the stream ended. */
    abortedByClient: number;
    /** Cut by reset_after_frames. */
    reset: number;
    active: number;
  };
  /** Non-streamed requests (or held ones) whose client went away before the reply. */
  abortedBeforeReply: number;
  openConnections: number;
  /** Connections accepted: a client that keeps its connections alive adds one per connection, not per request. */
  connections: number;
}

/** All counters at zero. */
export const freshStats = (): SimulatorStats => ({
  requests: 0,
  byRoute: {},
  byStatus: {},
  byFault: {},
  tokens: { prompt: 0, completion: 0 },
  streams: { started: 0, completed: 0, abortedByClient: 0, reset: 0, active: 0 },
  abortedBeforeReply: 0,
  openConnections: 0,
  connections: 0,
});
