/**
 * Resource and output headroom of the synthesized stacks (SPEC §9: no stack within 100 resources of
 * CloudFormation's 500; CloudFormation also allows 200 outputs per stack), now and projected with more routes.
 * A route's cost is measured from the templates, never hard-coded, in every stack:
 * - the stack of the REST API (Api): every API method and path resource, and every resource that names a route
 *   function through its export (the methods' invoke permissions);
 * - the stack of the route functions (ApiFunctions): each route function, its execution role, that role's
 *   policies and its log group (a role shared by several routes is counted once, so the cost is the average over
 *   the routes), and anything else there that references a route function;
 * - every other stack: the resources that name a route function through its export (the alarms of
 *   stacks/Monitoring.ts).
 * Outputs: the outputs whose value is a route function (the ARN export the Api stack and Monitoring import).
 */
import { refId, resources, target, type Res } from './cfn.js';
import type { Json, Synth } from './synth.js';

/** CloudFormation's resource limit per stack. */
export const STACK_RESOURCE_LIMIT = 500;
/** SPEC §9: every stack stays at least this far below the limit. */
export const REQUIRED_HEADROOM = 100;
/** CloudFormation's output limit per stack (exports are outputs). */
export const STACK_OUTPUT_LIMIT = 200;
/** The routes the next issues add (issue 12). */
export const MORE_ROUTES = 20;

export interface StackBudget {
  stack: string;
  resources: number;
  /** Resources one more route adds to this stack (average over the current routes). */
  perRoute: number;
  /** resources + MORE_ROUTES × perRoute, rounded up. */
  projected: number;
  /**
   * Resources one more route adds when its grant is new: the average route's own resources plus one whole grant
   * profile of this stack, the largest (its role, the role's policies and its log group); equal to perRoute in a
   * stack that holds no route function.
   */
  perRouteWorst: number;
  /** resources + MORE_ROUTES × perRouteWorst, rounded up. */
  projectedWorst: number;
  outputs: number;
  /** Outputs one more route adds to this stack (outputs whose value is a route function, per route). */
  outputsPerRoute: number;
  /** outputs + MORE_ROUTES × outputsPerRoute, rounded up. */
  projectedOutputs: number;
}

const key = (r: { stack: string; id: string }) => `${r.stack}/${r.id}`;

/** Every node of a JSON value that is an intrinsic reference (Ref, Fn::GetAtt, Fn::ImportValue). */
function referenceNodes(value: unknown, out: Json[] = []): Json[] {
  if (Array.isArray(value)) for (const v of value) referenceNodes(v, out);
  else if (value && typeof value === 'object') {
    const v = value as Json;
    if (typeof v.Ref === 'string' || Array.isArray(v['Fn::GetAtt']) || v['Fn::ImportValue'] !== undefined) out.push(v);
    else for (const child of Object.values(v)) referenceNodes(child, out);
  }
  return out;
}

/** The Lambda behind an AWS_PROXY method (buffered or streaming URI), followed through the cross-stack import. */
export function methodFunction(synth: Synth, method: Res): Res | undefined {
  for (const node of referenceNodes(method.props.Integration?.Uri)) {
    if (node.Ref !== undefined) continue; // AWS::Partition, AWS::Region
    const fn = target(synth, node, method.stack);
    if (fn?.type === 'AWS::Lambda::Function') return fn;
  }
  return undefined;
}

/** The route functions: the Lambdas the API methods integrate, wherever they live. */
export function routeFunctions(synth: Synth): Res[] {
  const found = new Map<string, Res>();
  for (const m of resources(synth, 'AWS::ApiGateway::Method')) {
    const fn = methodFunction(synth, m);
    if (fn) found.set(key(fn), fn);
  }
  return [...found.values()];
}

/** The outputs of `stack` whose value is a route function (its ARN or name), by output id. */
function routeFunctionOutputs(synth: Synth, stack: string, fnKeys: Set<string>): [string, Json][] {
  const outputs = (synth.json[stack]?.Outputs ?? {}) as Record<string, Json>;
  return Object.entries(outputs).filter(([, o]) => fnKeys.has(`${stack}/${refId(o.Value) ?? ''}`));
}

/** The resources of `stack` that exist because of a route (see the file comment), and its grant profiles. */
export function routeResources(synth: Synth, stack: string): { ids: Set<string>; profiles: Set<string>[] } {
  const fns = routeFunctions(synth);
  const fnKeys = new Set(fns.map(key));
  const exportNames = new Set(
    Object.keys(synth.json).flatMap((s) => routeFunctionOutputs(synth, s, fnKeys).map(([, o]) => o.Export?.Name).filter((n) => typeof n === 'string')),
  );
  const ids = new Set<string>();
  const all = resources(synth, undefined, stack);
  for (const r of all) {
    if (r.type === 'AWS::ApiGateway::Method' || r.type === 'AWS::ApiGateway::Resource') ids.add(r.id);
  }
  // The route functions of this stack, each with its role's log group and its role; the role's policies below.
  const profiles = new Map<string, Set<string>>();
  for (const fn of fns.filter((f) => f.stack === stack)) {
    ids.add(fn.id);
    const role = refId(fn.props.Role);
    if (!role) continue;
    const profile = profiles.get(role) ?? new Set<string>([role]);
    const logGroup = refId(fn.props.LoggingConfig?.LogGroup);
    if (logGroup) profile.add(logGroup);
    profiles.set(role, profile);
  }
  for (const p of resources(synth, 'AWS::IAM::Policy', stack)) {
    for (const r of p.props.Roles ?? []) profiles.get(refId(r) ?? '')?.add(p.id);
  }
  for (const profile of profiles.values()) for (const id of profile) ids.add(id);
  // Anything else naming a route function: in its own stack (Ref / GetAtt) or through its export.
  for (const r of all) {
    const named = referenceNodes(r.raw).some((node) => {
      const imported = node['Fn::ImportValue'];
      if (imported !== undefined) return typeof imported === 'string' && exportNames.has(imported);
      const id = refId(node);
      return id !== undefined && fnKeys.has(`${stack}/${id}`);
    });
    if (named) ids.add(r.id);
  }
  return { ids, profiles: [...profiles.values()] };
}

export function stackBudgets(synth: Synth, routes: number): StackBudget[] {
  const fnKeys = new Set(routeFunctions(synth).map(key));
  return Object.keys(synth.json).map((stack) => {
    const all = resources(synth, undefined, stack);
    const { ids, profiles } = routeResources(synth, stack);
    const profileResources = profiles.reduce((n, p) => n + p.size, 0);
    const largestProfile = Math.max(0, ...profiles.map((p) => p.size));
    const perRoute = ids.size / routes;
    // A route's own resources (method, path resources, permission, function...) plus one new grant profile.
    const perRouteWorst = (ids.size - profileResources) / routes + largestProfile;
    const outputs = Object.keys(synth.json[stack]?.Outputs ?? {}).length;
    const outputsPerRoute = routeFunctionOutputs(synth, stack, fnKeys).length / routes;
    return {
      stack,
      resources: all.length,
      perRoute,
      projected: Math.ceil(all.length + MORE_ROUTES * perRoute),
      perRouteWorst,
      projectedWorst: Math.ceil(all.length + MORE_ROUTES * perRouteWorst),
      outputs,
      outputsPerRoute,
      projectedOutputs: Math.ceil(outputs + MORE_ROUTES * outputsPerRoute),
    };
  });
}
