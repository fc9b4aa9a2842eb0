/**
 * THE workflow table: each state machine's ASL file (kept in infra/asl) and the handlers its Task
 * states call. The ASL uses "${<TaskName>}" placeholders as Lambda ARNs: stacks/Workflows.ts fills them
 * with DefinitionSubstitutions, local/stepfunctions.ts binds them to the same handlers.
 * JSONPath only (no JSONata: the local interpreter ignores it).
 */
import type { RelayKeyUse, TableAccess } from './access.js';

export interface WorkflowDef {
  name: string;
  asl: string;
  /**
   * timeout_s: the task function's timeout (default: the app's 10 s), used by the stack and the local runner alike.
   * sends: infra/queues.ts names the task sends to (sqs:SendMessage on exactly those, and their urlEnv), as a
   * schedule's handler target does.
   * relayKey: the task signs relay tokens (infra/access.ts RelayKeyUse).
   */
  tasks: Record<string, { handler: string; access: readonly TableAccess[]; timeout_s?: number; sends?: readonly string[]; relayKey?: RelayKeyUse }>;
  /** Env var through which starters learn the state machine ARN. */
  arnEnv: string;
  /**
   * Its tasks take up the work from its stored state, so an execution may begin again at StartAt: the local runtime
   * (which keeps executions in memory) restarts those a restart interrupted. On AWS executions never need it.
   */
  resumable?: true;
}

/** Probing tasks read the provider, sign relay tokens (the key set is created on first use: write) and record steps. */
const PROBE_ACCESS: readonly TableAccess[] = ['read', 'write', 'transact'];
/**
 * What emitting a webhook event needs besides its queue (functions/lib/webhooks.ts): the tenant's endpoints
 * (Query), the event written create-only (a transaction) or the existing one read, its dispatch mark cleared (UpdateItem).
 */
const EMIT_ACCESS: readonly TableAccess[] = ['read', 'query', 'write', 'transact'];

export const WORKFLOWS: readonly WorkflowDef[] = [
  {
    name: 'ledger-audit',
    asl: 'infra/asl/ledger-audit.asl.json',
    tasks: {
      // Pages the shard's accounts (Query on accountsForAudit), then reads their balances (BatchGetItem).
      AuditShardFn: { handler: 'functions/audit.auditShard', access: ['read', 'query'] },
      AuditSummaryFn: { handler: 'functions/audit.summarize', access: [] },
    },
    arnEnv: 'LEDGER_AUDIT_ARN',
    // Reads only.
    resumable: true,
  },
  {
    name: 'provider-validation',
    asl: 'infra/asl/provider-validation.asl.json',
    tasks: {
      // Probing steps send bounded probes (30 s each at most, 4 at a time): minutes, not seconds.
      RelayHandshakeFn: { handler: 'functions/validation.relayHandshake', access: PROBE_ACCESS, relayKey: 'sign', timeout_s: 300 },
      ReliabilityFn: { handler: 'functions/validation.reliability', access: PROBE_ACCESS, relayKey: 'sign', timeout_s: 300 },
      ThroughputFn: { handler: 'functions/validation.throughput', access: PROBE_ACCESS, relayKey: 'sign', timeout_s: 300 },
      SlaLatencyFn: { handler: 'functions/validation.slaLatency', access: PROBE_ACCESS, relayKey: 'sign', timeout_s: 300 },
      PricingReviewFn: { handler: 'functions/validation.pricingReview', access: ['read', 'query', 'transact'] },
      // The machine's two ends tell the provider (provider.validation.completed).
      GoLiveFn: { handler: 'functions/validation.goLive', access: EMIT_ACCESS, sends: ['webhook-deliveries'] },
      ReturnToIntegrationFn: { handler: 'functions/validation.returnToIntegration', access: EMIT_ACCESS, sends: ['webhook-deliveries'] },
    },
    arnEnv: 'PROVIDER_VALIDATION_ARN',
  },
  {
    name: 'provider-settlement',
    asl: 'infra/asl/provider-settlement.asl.json',
    tasks: {
      // begin writes the run record and lists providers (the routing partition).
      BeginFn: { handler: 'functions/settlement.begin', access: ['read', 'write', 'query'] },
      // Ten pages of records and their startups' segments a call.
      ReadRecordsFn: { handler: 'functions/settlement.readRecords', access: ['read', 'query'], timeout_s: 120 },
      // Tells the provider its statement is issued (statement.issued).
      IssueStatementFn: { handler: 'functions/settlement.issueStatement', access: ['read', 'query', 'write', 'transact'], timeout_s: 30, sends: ['webhook-deliveries'] },
      ReconcileFn: { handler: 'functions/settlement.reconcile', access: ['read', 'write'], timeout_s: 60 },
      // The Catches: a provider's failure onto the run record; the run marked failed.
      ProviderFailedFn: { handler: 'functions/settlement.providerFailed', access: ['write'] },
      MarkFailedFn: { handler: 'functions/settlement.markFailed', access: ['read', 'write'] },
    },
    arnEnv: 'PROVIDER_SETTLEMENT_ARN',
  },
  {
    name: 'booking-lifecycle',
    asl: 'infra/asl/booking-lifecycle.asl.json',
    tasks: {
      // Expires a booking still pending at accept_by (its release: hours and hold) and tells the startup.
      AwaitAnswerFn: { handler: 'functions/booking-lifecycle.awaitAnswer', access: EMIT_ACCESS, sends: ['webhook-deliveries'] },
      // Reads the booking (the seconds to its start); begins it (its status); bills an hour (a capture on its
      // hold: the posting, the hold, the buckets and the hour's record in one transaction) and may complete it.
      UntilStartFn: { handler: 'functions/booking-lifecycle.untilStart', access: ['read'] },
      BeginFn: { handler: 'functions/booking-lifecycle.begin', access: ['read', 'write'] },
      // The last hour's bill completes the booking and tells the startup (booking.completed).
      BillHourFn: { handler: 'functions/booking-lifecycle.billHour', access: EMIT_ACCESS, timeout_s: 60, sends: ['webhook-deliveries'] },
    },
    arnEnv: 'BOOKING_LIFECYCLE_ARN',
    // Every task reads the booking and works from its state (hours billed are numbered captures): begun again, it
    // takes up where the booking is.
    resumable: true,
  },
];
