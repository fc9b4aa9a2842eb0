/** Small readers over synthesized CloudFormation templates (plain JSON), for test/stacks.test.ts. */
import type { Json, Synth } from './synth.js';

export interface Res {
  stack: string;
  id: string;
  type: string;
  props: Json;
  raw: Json;
}

export function resources(synth: Synth, type?: string, stack?: string): Res[] {
  const out: Res[] = [];
  for (const [stackId, template] of Object.entries(synth.json)) {
    if (stack !== undefined && stackId !== stack) continue;
    for (const [id, raw] of Object.entries((template.Resources ?? {}) as Record<string, Json>)) {
      if (type !== undefined && raw.Type !== type) continue;
      out.push({ stack: stackId, id, type: raw.Type, props: raw.Properties ?? {}, raw });
    }
  }
  return out;
}

export function resource(synth: Synth, stack: string, id: string): Res {
  const raw = synth.json[stack]?.Resources?.[id] as Json | undefined;
  if (!raw) throw new Error(`no resource ${stack}/${id}`);
  return { stack, id, type: raw.Type, props: raw.Properties ?? {}, raw };
}

/** The logical id behind {"Fn::GetAtt":[id,"Arn"]} or {"Ref":id}. */
export function refId(value: unknown): string | undefined {
  if (value && typeof value === 'object') {
    const v = value as Json;
    if (Array.isArray(v['Fn::GetAtt'])) return v['Fn::GetAtt'][0];
    if (typeof v.Ref === 'string') return v.Ref;
  }
  return undefined;
}

/** Follow an Fn::ImportValue to the exporting stack's output value; other values are returned as they are. */
export function resolveImport(synth: Synth, value: unknown, from: string): { stack: string; value: unknown } {
  const name = (value as Json | null)?.['Fn::ImportValue'];
  if (typeof name !== 'string') return { stack: from, value };
  for (const [stackId, template] of Object.entries(synth.json)) {
    for (const output of Object.values((template.Outputs ?? {}) as Record<string, Json>)) {
      if (output.Export?.Name === name) return { stack: stackId, value: output.Value };
    }
  }
  throw new Error(`no export named ${name}`);
}

/**
 * The resource a value points at (GetAtt / Ref), following cross-stack imports, and the resource whose ARN a
 * `Fn::Select` of a `Fn::Split` on ":" takes a part of (an imported function's name: CDK's `fromFunctionAttributes`).
 */
export function target(synth: Synth, value: unknown, from: string): Res | undefined {
  const select = (value as Json | null)?.['Fn::Select'];
  const split = Array.isArray(select) ? (select[1] as Json | null)?.['Fn::Split'] : undefined;
  if (Array.isArray(split) && split[0] === ':') return target(synth, split[1], from);
  const resolved = resolveImport(synth, value, from);
  const id = refId(resolved.value);
  return id === undefined ? undefined : resource(synth, resolved.stack, id);
}

export function lambdaByHandler(synth: Synth, handler: string): Res[] {
  return resources(synth, 'AWS::Lambda::Function').filter((f) => f.props.Handler === handler);
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

export function actionsOf(s: Statement): string[] {
  return Array.isArray(s.Action) ? s.Action : [s.Action];
}

export function resourcesOf(s: Statement): unknown[] {
  return Array.isArray(s.Resource) ? s.Resource : [s.Resource];
}

/** Every statement of every identity policy (AWS::IAM::Policy, managed policies, inline role policies) in the app. */
export function allStatements(synth: Synth): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  for (const r of resources(synth)) {
    const docs: Json[] = [];
    if (r.type === 'AWS::IAM::Policy' || r.type === 'AWS::IAM::ManagedPolicy') docs.push(r.props.PolicyDocument);
    if (r.type === 'AWS::IAM::Role') for (const p of r.props.Policies ?? []) docs.push(p.PolicyDocument);
    for (const doc of docs) for (const statement of doc?.Statement ?? []) out.push({ where: `${r.stack}/${r.id}`, statement });
  }
  return out;
}

/** The identity statements attached to a Lambda function's execution role. */
export function functionStatements(synth: Synth, fn: Res): Statement[] {
  const roleId = refId(fn.props.Role);
  if (!roleId) throw new Error(`${fn.id} has no role`);
  const out: Statement[] = [];
  for (const p of resources(synth, 'AWS::IAM::Policy', fn.stack)) {
    if ((p.props.Roles ?? []).some((r: unknown) => refId(r) === roleId)) out.push(...p.props.PolicyDocument.Statement);
  }
  const role = resource(synth, fn.stack, roleId);
  for (const p of role.props.Policies ?? []) out.push(...p.PolicyDocument.Statement);
  return out;
}

export function dynamoActions(statements: Statement[]): string[] {
  return [...new Set(statements.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:')))].sort();
}

/** The full path of an AWS::ApiGateway::Resource id (or the root, for a GetAtt RootResourceId). */
export function apiPath(synth: Synth, stack: string, resourceRef: unknown): string {
  const v = resourceRef as Json;
  if (Array.isArray(v?.['Fn::GetAtt']) && v['Fn::GetAtt'][1] === 'RootResourceId') return '';
  const id = refId(v);
  if (!id) throw new Error(`unresolvable API resource ${JSON.stringify(v)}`);
  const r = resource(synth, stack, id);
  return `${apiPath(synth, stack, r.props.ParentId)}/${r.props.PathPart}`;
}

/** ${Name} placeholders of a string. */
export function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] as string))].sort();
}

/** Every Task state of an ASL document, nested Map iterators / processors and Parallel branches included. */
export function taskStates(asl: Json): { name: string; state: Json }[] {
  const out: { name: string; state: Json }[] = [];
  const walk = (machine: Json | undefined) => {
    for (const [name, state] of Object.entries((machine?.States ?? {}) as Record<string, Json>)) {
      if (state.Type === 'Task') out.push({ name, state });
      walk(state.Iterator);
      walk(state.ItemProcessor);
      for (const branch of state.Branches ?? []) walk(branch);
    }
  };
  walk(asl);
  return out;
}
