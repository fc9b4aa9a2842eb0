/**
 * AWS Solutions checks (cdk-nag) over the whole app, applied from sst.config.ts so `sst deploy` runs them
 * too, and every suppression of the app (SUPPRESSIONS below), each with its one-line reason and matched to
 * resources by what they are, never stack-wide. IAM5 wildcard suppressions are scoped with `appliesTo` to
 * exactly the wildcard they accept (the table's `index/*`, X-Ray / log-delivery actions on "*"), so any other
 * wildcard still fails. The checks run as a CDK aspect at synthesis; each finding is an error/warning
 * annotation on its resource and is also recorded in `nagFindings` (test/stacks/guardrails.test.ts asserts
 * that none is left open and that every suppression has a reason).
 */
import { AspectPriority, Aspects, CfnResource, Stack, type App, type IAspect } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import {
  AwsSolutionsChecks,
  NagSuppressions,
  type INagLogger,
  type NagLoggerNonComplianceData,
  type NagLoggerSuppressedData,
  type NagLoggerErrorData,
  type NagLoggerSuppressedErrorData,
  type NagPackSuppressionAppliesTo,
} from 'cdk-nag';

export interface NagFinding {
  stack: string;
  path: string;
  ruleId: string;
  findingId: string;
  level: string;
  info: string;
  /** The suppression's reason when suppressed; undefined for an open finding. */
  suppressedBecause?: string;
}

/** Every finding of the last synthesis (open and suppressed). */
export const nagFindings: NagFinding[] = [];

class CollectingLogger implements INagLogger {
  private record(data: NagLoggerNonComplianceData | NagLoggerErrorData, suppressedBecause?: string): void {
    nagFindings.push({
      stack: Stack.of(data.resource).stackName,
      path: data.resource.node.path,
      ruleId: data.ruleId,
      findingId: 'findingId' in data ? data.findingId : '',
      level: data.ruleLevel,
      info: 'errorMessage' in data ? `rule error: ${data.errorMessage}` : data.ruleInfo,
      ...(suppressedBecause !== undefined ? { suppressedBecause } : {}),
    });
  }
  onCompliance(): void {}
  onNotApplicable(): void {}
  onNonCompliance(data: NagLoggerNonComplianceData): void {
    this.record(data);
  }
  onSuppressed(data: NagLoggerSuppressedData): void {
    this.record(data, data.suppressionReason);
  }
  onError(data: NagLoggerErrorData): void {
    this.record(data);
  }
  onSuppressedError(data: NagLoggerSuppressedErrorData): void {
    this.record(data, data.errorSuppressionReason);
  }
}

/** Actions that only exist on Resource "*" (no resource-level permissions), the only ones accepted on "*". */
export const STAR_ONLY_ACTIONS: ReadonlySet<string> = new Set([
  // X-Ray (Lambda and Step Functions tracing)
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  // Step Functions log delivery to CloudWatch Logs (vended logs)
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
]);

type Json = Record<string, unknown>;

/** A resource's CloudFormation properties, resolved (works for generic CfnResources too). */
function props(r: CfnResource): Json {
  const cfn = Stack.of(r).resolve((r as unknown as { _toCloudFormation(): unknown })._toCloudFormation()) as { Resources?: Record<string, { Properties?: Json }> };
  return Object.values(cfn.Resources ?? {})[0]?.Properties ?? {};
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

/** An IAM policy whose every statement on Resource "*" allows only STAR_ONLY_ACTIONS. */
function starOnlyForStarActions(r: CfnResource): boolean {
  if (r.cfnResourceType !== 'AWS::IAM::Policy') return false;
  const statements = ((props(r).PolicyDocument as Json | undefined)?.Statement ?? []) as Json[];
  const onStar = statements.filter((s) => s.Effect === 'Allow' && asList(s.Resource).includes('*'));
  return onStar.length > 0 && onStar.every((s) => asList(s.Action).every((a) => STAR_ONLY_ACTIONS.has(a as string)));
}

function assumedBy(r: CfnResource, service: string): boolean {
  if (r.cfnResourceType !== 'AWS::IAM::Role') return false;
  return JSON.stringify(props(r).AssumeRolePolicyDocument ?? {}).includes(service);
}

function runtime(r: CfnResource): string | undefined {
  if (r.cfnResourceType !== 'AWS::Lambda::Function') return undefined;
  const value = props(r).Runtime;
  return typeof value === 'string' ? value : undefined;
}

const pathEnds = (r: CfnResource, suffix: string) => r.node.path.endsWith(suffix);

export interface Suppression {
  id: string;
  reason: string;
  appliesTo?: NagPackSuppressionAppliesTo[];
  /** The resources it applies to, by what they are. */
  when: (r: CfnResource) => boolean;
}

/** Every suppression of the app. */
export const SUPPRESSIONS: readonly Suppression[] = [
  // --- Lambda, every stack ---
  {
    id: 'AwsSolutions-L1',
    reason: 'nodejs22.x is the pinned runtime of every CompuX function (SPEC §9: Node.js 22); a runtime upgrade is a deliberate change',
    when: (r) => runtime(r) === 'nodejs22.x',
  },
  {
    id: 'AwsSolutions-IAM4',
    reason: "AWSLambdaBasicExecutionRole only lets a function write its own CloudWatch logs (SST's custom resource handler role); AWS maintains it",
    appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
    when: (r) => assumedBy(r, 'lambda.amazonaws.com'),
  },
  {
    id: 'AwsSolutions-IAM5',
    reason: 'X-Ray tracing and Step Functions log delivery actions have no resource-level permissions: "*" is their only resource',
    appliesTo: ['Resource::*'],
    when: starOnlyForStarActions,
  },
  {
    id: 'AwsSolutions-IAM5',
    reason: "The table's GSIs: exactly the row's table actions (infra/access.ts) on <tableArn>/index/*, never on another table",
    appliesTo: [{ regex: '/^Resource::<Table[A-Za-z0-9]*\\.Arn>\\/index\\/\\*$/' }],
    when: (r) => r.cfnResourceType === 'AWS::IAM::Policy',
  },
  {
    id: 'AwsSolutions-IAM4',
    reason: "API Gateway's account-level CloudWatch Logs role (stage and access logging) uses AWS's documented AmazonAPIGatewayPushToCloudWatchLogs",
    appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs'],
    when: (r) => assumedBy(r, 'apigateway.amazonaws.com'),
  },
  // --- Storage ---
  {
    id: 'AwsSolutions-SMG4',
    reason: 'The cursor secret only seals list cursors (an integrity tag, not a credential): a rotation would only turn cursors in flight into 400s, so it is replaced by hand (docs/stacks.md), with no rotation Lambda',
    when: (r) => r.cfnResourceType === 'AWS::SecretsManager::Secret' && pathEnds(r, '/CursorSecret/Resource'),
  },
  // --- Schedules ---
  {
    id: 'AwsSolutions-SQS3',
    reason: 'This queue is the dead-letter queue of every EventBridge target (a DLQ needs no DLQ of its own); it is alarmed',
    when: (r) => r.cfnResourceType === 'AWS::SQS::Queue' && pathEnds(r, '/ScheduleTargetsDlq/Resource'),
  },
  // --- Web ---
  {
    id: 'AwsSolutions-S1',
    reason: 'This is the access-log bucket; logging it into itself would loop',
    when: (r) => r.cfnResourceType === 'AWS::S3::Bucket' && pathEnds(r, '/WebLogs/Resource'),
  },
  {
    id: 'AwsSolutions-S1',
    reason: "The site bucket is read only through CloudFront, whose access logs (WebLogs) record every read; only deploys write it",
    when: (r) => r.cfnResourceType === 'AWS::S3::Bucket' && pathEnds(r, '/Web/S3Bucket/Resource'),
  },
  {
    id: 'AwsSolutions-IAM5',
    reason: "SST StaticSite's uploader writes the built site into its own bucket and reads the CDK asset bucket: object keys are not known at synth",
    appliesTo: [{ regex: '/^Resource::<WebS3Bucket[A-Za-z0-9]*\\.Arn>\\/\\*$/' }, { regex: '/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-[^/]+\\/\\*$/' }],
    when: (r) => r.cfnResourceType === 'AWS::IAM::Policy' && pathEnds(r, '/Web/S3UploaderPolicy/Resource'),
  },
  {
    id: 'AwsSolutions-CFR1',
    reason: 'The dashboards and API serve lenders, startups and providers worldwide: no geographic restriction by design',
    when: (r) => r.cfnResourceType === 'AWS::CloudFront::Distribution',
  },
  {
    id: 'AwsSolutions-CFR2',
    reason: 'No WAF yet (issue 12 scope): the API authenticates every call and rate-limits per key in the handler',
    when: (r) => r.cfnResourceType === 'AWS::CloudFront::Distribution',
  },
  {
    id: 'AwsSolutions-CFR4',
    reason: 'No custom domain yet: the default *.cloudfront.net certificate has a fixed security policy; set TLSv1.2_2021 with the domain',
    when: (r) => r.cfnResourceType === 'AWS::CloudFront::Distribution',
  },
  {
    id: 'AwsSolutions-CFR7',
    reason: 'SST v2 StaticSite reaches its private bucket through an origin access identity; the bucket is never public',
    when: (r) => r.cfnResourceType === 'AWS::CloudFront::Distribution',
  },
  // --- Api (by design; the Api stack's own findings otherwise belong to stacks/Api.ts) ---
  {
    id: 'AwsSolutions-APIG3',
    reason: 'No WAF yet (issue 12 scope): stage throttling and per-key rate limits in the handler bound abuse',
    when: (r) => r.cfnResourceType === 'AWS::ApiGateway::Stage',
  },
  {
    id: 'AwsSolutions-APIG4',
    reason: 'Auth is a CompuX API key (Bearer) checked by the handler against its hash in the table (functions/lib/api.ts); OpenAI clients cannot do SigV4 or Cognito',
    when: (r) => r.cfnResourceType === 'AWS::ApiGateway::Method',
  },
  {
    id: 'AwsSolutions-COG4',
    reason: 'Auth is a CompuX API key (Bearer) checked by the handler, not a Cognito user pool (OpenAI-compatible clients send only a key)',
    when: (r) => r.cfnResourceType === 'AWS::ApiGateway::Method',
  },
];

/** Applies SUPPRESSIONS to each resource before the checks see it. */
class Suppressor implements IAspect {
  visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node)) return;
    const matching = SUPPRESSIONS.filter((s) => s.when(node));
    if (matching.length === 0) return;
    NagSuppressions.addResourceSuppressions(
      node,
      matching.map(({ id, reason, appliesTo }) => ({ id, reason, ...(appliesTo ? { appliesTo } : {}) })),
    );
  }
}

/** Adds the suppressions and the AwsSolutions pack to the app (call once, before the app synthesizes). */
export function applyNag(app: App): void {
  nagFindings.length = 0;
  Aspects.of(app).add(new Suppressor(), { priority: AspectPriority.MUTATING });
  Aspects.of(app).add(new AwsSolutionsChecks({ reports: false, additionalLoggers: [new CollectingLogger()] }));
}
