/**
 * Resource headroom of the synthesized stacks (SPEC §9: no stack within 100 resources of CloudFormation's 500),
 * now and projected with more routes. A route's cost is measured from the templates, never hard-coded: in the Api
 * stack, every API method and path resource plus, per route function, the function, its (role's) log group, its invoke
 * permissions, its execution role and that role's policies (a role shared by several routes is counted once, so
 * the cost is the average over the routes); in every other stack, the resources that reference a route function
 * through an Api export (the alarms of stacks/Monitoring.ts).
 */
import { refId, resources, type Res } from './cfn.js';
import type { Json, Synth } from './synth.js';

/** CloudFormation's resource limit per stack. */
export const STACK_RESOURCE_LIMIT = 500;
/** SPEC §9: every stack stays at least this far below the limit. */
export const REQUIRED_HEADROOM = 100;
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
   * Resources one more route adds when its grant is new (Api: the average route's own resources plus one whole
   * grant profile, the largest: its role, the role's policies and its log group); equal to perRoute elsewhere.
   */
  perRouteWorst: number;
  /** resources + MORE_ROUTES × perRouteWorst, rounded up. */
  projectedWorst: number;
}

/** The Lambda behind an AWS_PROXY method (buffered or streaming URI). */
function methodFunctionId(method: Res): string | undefined {
  const uri = JSON.stringify(method.props.Integration?.Uri ?? '');
  return /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(uri)?.[1];
}

/** The logical ids of the route functions of the Api stack (the Lambdas its methods integrate). */
export function routeFunctionIds(synth: Synth): string[] {
  const ids = resources(synth, 'AWS::ApiGateway::Method', 'Api').map(methodFunctionId);
  return [...new Set(ids.filter((id): id is string => id !== undefined))];
}

/** The resources of each grant profile of the route functions: its role, the role's policies, its log groups. */
function profileResourceIds(synth: Synth): Map<string, Set<string>> {
  const fnIds = new Set(routeFunctionIds(synth));
  const profiles = new Map<string, Set<string>>();
  for (const fn of resources(synth, 'AWS::Lambda::Function', 'Api').filter((f) => fnIds.has(f.id))) {
    const role = refId(fn.props.Role);
    if (!role) continue;
    const ids = profiles.get(role) ?? new Set<string>([role]);
    const logGroup = refId(fn.props.LoggingConfig?.LogGroup);
    if (logGroup) ids.add(logGroup);
    profiles.set(role, ids);
  }
  for (const p of resources(synth, 'AWS::IAM::Policy', 'Api')) {
    for (const r of p.props.Roles ?? []) profiles.get(refId(r) ?? '')?.add(p.id);
  }
  return profiles;
}

/** Every Api resource that exists because of a route (see the file comment). */
export function routeResourceIds(synth: Synth): Set<string> {
  const ids = new Set<string>();
  for (const r of resources(synth, undefined, 'Api')) {
    if (r.type === 'AWS::ApiGateway::Method' || r.type === 'AWS::ApiGateway::Resource') ids.add(r.id);
  }
  const fnIds = new Set(routeFunctionIds(synth));
  const roleIds = new Set<string>();
  for (const fn of resources(synth, 'AWS::Lambda::Function', 'Api').filter((f) => fnIds.has(f.id))) {
    ids.add(fn.id);
    const logGroup = refId(fn.props.LoggingConfig?.LogGroup);
    if (logGroup) ids.add(logGroup);
    const role = refId(fn.props.Role);
    if (role) roleIds.add(role);
  }
  for (const p of resources(synth, 'AWS::Lambda::Permission', 'Api')) {
    const fn = refId(p.props.FunctionName);
    if (fn && fnIds.has(fn)) ids.add(p.id);
  }
  for (const role of roleIds) ids.add(role);
  for (const p of resources(synth, 'AWS::IAM::Policy', 'Api')) {
    if ((p.props.Roles ?? []).some((r: unknown) => roleIds.has(refId(r) ?? ''))) ids.add(p.id);
  }
  return ids;
}

/** Names of the Api exports whose value is a route function (its name or ARN). */
function routeFunctionExports(synth: Synth): string[] {
  const fnIds = new Set(routeFunctionIds(synth));
  const outputs = (synth.json.Api?.Outputs ?? {}) as Record<string, Json>;
  return Object.values(outputs)
    .filter((o) => typeof o.Export?.Name === 'string' && fnIds.has(refId(o.Value) ?? ''))
    .map((o) => o.Export.Name as string);
}

export function stackBudgets(synth: Synth, routes: number): StackBudget[] {
  const apiRouteResources = routeResourceIds(synth).size;
  const profiles = [...profileResourceIds(synth).values()];
  const profileResources = profiles.reduce((n, ids) => n + ids.size, 0);
  const largestProfile = Math.max(0, ...profiles.map((ids) => ids.size));
  // A route's own resources (method, path resources, function, permissions), without any grant profile.
  const apiOwnPerRoute = (apiRouteResources - profileResources) / routes;
  const exports = routeFunctionExports(synth);
  return Object.keys(synth.json).map((stack) => {
    const all = resources(synth, undefined, stack);
    const perRouteTotal =
      stack === 'Api'
        ? apiRouteResources
        : all.filter((r) => {
            const text = JSON.stringify(r.raw);
            return exports.some((name) => text.includes(JSON.stringify(name)));
          }).length;
    const perRoute = perRouteTotal / routes;
    const perRouteWorst = stack === 'Api' ? apiOwnPerRoute + largestProfile : perRoute;
    return {
      stack,
      resources: all.length,
      perRoute,
      projected: Math.ceil(all.length + MORE_ROUTES * perRoute),
      perRouteWorst,
      projectedWorst: Math.ceil(all.length + MORE_ROUTES * perRouteWorst),
    };
  });
}
