/**
 * The dashboards (web/, built into web/dist by scripts/build-web.ts before a deploy) as an SST StaticSite on
 * CloudFront, at the same origin as the API: /v1/* and /openapi.json go to the REST API (no caching, every
 * viewer header but Host), everything else to the bucket. No custom error pages: CloudFront applies them to
 * the whole distribution, and an API 403 or 404 must reach the client as it is, not as index.html.
 * The app routes in the URL's fragment, so a viewer-request function only maps extension-less paths to
 * index.html. Long streamed inference calls should use the API's own URL (CloudFront's origin read
 * timeout here is 60 s). The site bucket is TLS-only and encrypted; the distribution writes access logs to
 * the WebLogs bucket.
 */
import { StaticSite, use, type StackContext } from 'sst/constructs';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cf from 'aws-cdk-lib/aws-cloudfront';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { RestApiOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { Api } from './Api.js';
import { PROD_STAGE } from './Storage.js';

/** The same policy the local runtime sends with the dashboards (local/static.ts). */
export const WEB_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
export const API_PATHS = ['/v1/*', '/openapi.json'] as const;

export function Web({ stack }: StackContext) {
  const { api } = use(Api);
  const isProd = stack.stage === PROD_STAGE;
  // The distribution's access logs (CloudFront standard logging needs ACLs: BUCKET_OWNER_PREFERRED); private,
  // TLS only, expiring. The site bucket is read only through CloudFront, so these logs record every read.
  const logs = new s3.Bucket(stack, 'WebLogs', {
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
    lifecycleRules: [{ expiration: Duration.days(isProd ? 365 : 14) }],
    removalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    autoDeleteObjects: !isProd,
  });
  const apiBehavior: cf.BehaviorOptions = {
    origin: new RestApiOrigin(api.cdk.restApi, { readTimeout: Duration.seconds(60) }),
    viewerProtocolPolicy: cf.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
    allowedMethods: cf.AllowedMethods.ALLOW_ALL,
    cachePolicy: cf.CachePolicy.CACHING_DISABLED,
    originRequestPolicy: cf.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
  };
  const headers = new cf.ResponseHeadersPolicy(stack, 'WebHeaders', {
    securityHeadersBehavior: {
      contentSecurityPolicy: { contentSecurityPolicy: WEB_CSP, override: true },
      contentTypeOptions: { override: true },
      referrerPolicy: { referrerPolicy: cf.HeadersReferrerPolicy.NO_REFERRER, override: true },
      frameOptions: { frameOption: cf.HeadersFrameOption.DENY, override: true },
      strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
    },
  });
  const index = new cf.Function(stack, 'WebIndex', {
    runtime: cf.FunctionRuntime.JS_2_0,
    code: cf.FunctionCode.fromInline("function handler(event){var r=event.request;if(r.uri.split('/').pop().indexOf('.')<0)r.uri='/index.html';return r;}"),
  });
  const site = new StaticSite(stack, 'Web', {
    path: 'web',
    buildOutput: 'dist',
    cdk: {
      bucket: { enforceSSL: true, encryption: s3.BucketEncryption.S3_MANAGED },
      distribution: {
        enableLogging: true,
        logBucket: logs,
        logFilePrefix: 'cloudfront/',
        errorResponses: [],
        defaultBehavior: { functionAssociations: [{ function: index, eventType: cf.FunctionEventType.VIEWER_REQUEST }], responseHeadersPolicy: headers },
        additionalBehaviors: Object.fromEntries(API_PATHS.map((p) => [p, apiBehavior])),
      },
    },
  });
  stack.addOutputs({ WebUrl: site.url });
  return { site, logs };
}
