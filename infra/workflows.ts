/**
 * THE workflow table: each state machine's ASL file (kept in infra/asl) and the handlers its Task
 * states call. The ASL uses "${<TaskName>}" placeholders as Lambda ARNs: stacks/Workflows.ts fills them
 * with DefinitionSubstitutions, local/stepfunctions.ts binds them to the same handlers.
 * JSONPath only (no JSONata: the local interpreter ignores it).
 */
import type { TableAccess } from './access.js';

export interface WorkflowDef {
  name: string;
  asl: string;
  tasks: Record<string, { handler: string; access: readonly TableAccess[] }>;
  /** Env var through which starters learn the state machine ARN. */
  arnEnv: string;
}

export const WORKFLOWS: readonly WorkflowDef[] = [
  {
    name: 'ledger-audit',
    asl: 'infra/asl/ledger-audit.asl.json',
    tasks: {
      AuditShardFn: { handler: 'functions/audit.auditShard', access: ['query'] },
      AuditSummaryFn: { handler: 'functions/audit.summarize', access: [] },
    },
    arnEnv: 'LEDGER_AUDIT_ARN',
  },
];
