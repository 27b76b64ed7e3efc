import { fileURLToPath } from "node:url";
import { DefaultStackSynthesizer, DockerImage, RemovalPolicy, Stack } from "aws-cdk-lib";
import type { IHttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { HttpOrigin, S3BucketOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import { BucketDeployment, type ISource, Source } from "aws-cdk-lib/aws-s3-deployment";
import { Construct } from "constructs";
import { bundleWebInto } from "../web/build.ts";
import { acknowledgeNag, wildcardResourceFinding } from "./constructs/nag.ts";
import type { Reviewers } from "./reviewers.ts";

const WEB_ROOT = fileURLToPath(new URL("../web", import.meta.url));

export interface WebProps {
  /** Served under `/api/*` from the same origin, so the browser needs no CORS. */
  readonly api: IHttpApi;
  /** The user pool the reviewers sign in to, through its hosted UI. */
  readonly reviewers: Reviewers;
  /** Where the site bucket's server access logs go. */
  readonly accessLogsBucket: IBucket;
  /**
   * The hosted UI's domain prefix (`<prefix>.auth.<region>.amazoncognito.com`), unique in the
   * region. Default: `flywheel-<account>`.
   */
  readonly signInDomainPrefix?: string;
  /** The built site. Default: `web/` built with Vite at synth time (a copy of `web/dist` when current). */
  readonly site?: ISource;
}

/** The web UI's build, made by CDK's local bundling (no Docker: Node and Vite are here already). */
export function webSiteSource(): ISource {
  return Source.asset(WEB_ROOT, {
    exclude: ["dist", "dist.tmp-*", "build.ts"],
    bundling: {
      // Required by the API; never pulled, as the local bundling always succeeds or throws.
      image: DockerImage.fromRegistry("public.ecr.aws/docker/library/node:20"),
      local: {
        tryBundle(outputDir) {
          bundleWebInto(outputDir);
          return true;
        },
      },
    },
  });
}

/**
 * The reviewer web UI: the Vite build in a private bucket, served by CloudFront through origin
 * access control, with the review API behind the same distribution under `/api/*`. Reviewers
 * sign in through the Cognito hosted UI; `config.json`, written at deploy time beside
 * index.html, tells the page where that is.
 */
export class Web extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  readonly url: string;
  readonly signInUrl: string;

  constructor(scope: Construct, id: string, props: WebProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.bucket = new Bucket(this, "SiteBucket", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: "web-bucket/",
      // As every bucket of the stack; the deployment leaves its files behind on delete, so a
      // destroyed stack would fail on a non-empty bucket anyway.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const apiOrigin = new HttpOrigin(`${props.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`, {
      protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
    });
    this.distribution = new Distribution(this, "Distribution", {
      comment: "Flywheel reviewer UI and review API",
      defaultRootObject: "index.html",
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: ResponseHeadersPolicy.SECURITY_HEADERS,
        compress: true,
      },
      additionalBehaviors: {
        "/api/*": {
          origin: apiOrigin,
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          // Nothing is cached, so every viewer header but Host (Authorization included) goes through.
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        },
      },
      httpVersion: HttpVersion.HTTP2_AND_3,
      minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
      priceClass: PriceClass.PRICE_CLASS_100,
    });
    acknowledgeNag(
      this.distribution,
      "AwsSolutions-CFR1",
      "Reviewers work from wherever they are; who may act is decided by the Cognito sign-in, not by country.",
    );
    acknowledgeNag(
      this.distribution,
      "AwsSolutions-CFR2",
      "The site is static files; every /api route but the open ones (health check, API description, ingest, which checks its own tokens) needs a JWT carrying the route's scope, and API Gateway throttles each route at its family's limits; a WAF's cost is not justified for a few reviewers.",
    );
    acknowledgeNag(
      this.distribution,
      "AwsSolutions-CFR3",
      "The API's requests are logged by API Gateway's access logs; the rest are static files. CloudFront's standard logs need an ACL-enabled bucket, which the project's log bucket deliberately is not.",
    );
    acknowledgeNag(
      this.distribution,
      "AwsSolutions-CFR4",
      "The distribution uses the default cloudfront.net certificate, for which CloudFront fixes the policy; its minimum protocol is set to TLS 1.2 for when a custom domain is added.",
    );

    this.url = `https://${this.distribution.distributionDomainName}/`;
    const domain = props.reviewers.enableHostedUi({
      domainPrefix: props.signInDomainPrefix ?? `flywheel-${stack.account}`,
      appUrl: this.url,
    });
    this.signInUrl = domain.baseUrl();

    new BucketDeployment(this, "Deploy", {
      sources: [
        props.site ?? webSiteSource(),
        Source.jsonData("config.json", {
          cognitoDomain: this.signInUrl,
          clientId: props.reviewers.client.userPoolClientId,
          // The access token carries the flywheel scopes of the reviewer's groups (the
          // pre-token-generation trigger adds them and drops the rest).
          scopes: props.reviewers.personScopes,
        }),
      ],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ["/*"],
      prune: true,
      memoryLimit: 512,
    });
    acknowledgeBucketDeploymentHandler(stack, this.bucket);
  }
}

/**
 * `BucketDeployment` runs a stack-wide function owned by CDK (a singleton whose id starts with
 * `Custom::CDKBucketDeployment`) that copies the build from the CDK assets bucket into the site
 * bucket and invalidates the distribution at deploy time. Its role is CDK's own.
 */
function acknowledgeBucketDeploymentHandler(stack: Stack, bucket: IBucket): void {
  const qualifier = stack.synthesizer.bootstrapQualifier ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
  const findings: [string, string][] = [
    [
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
      "CDK's bucket-deployment function only needs to write its own logs, which this managed policy allows.",
    ],
    [
      "AwsSolutions-L1",
      "CDK's bucket-deployment function runs the runtime its aws-cdk-lib version ships with; it moves with aws-cdk-lib.",
    ],
    ...["s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*"].map(
      (action): [string, string] => [
        `AwsSolutions-IAM5[Action::${action}]`,
        "CDK grants its bucket-deployment function read on the assets bucket and read-write on the site bucket only; pruning needs list and delete.",
      ],
    ),
    [
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-${qualifier}-assets-<AWS::AccountId>-<AWS::Region>/*]`,
      "The built site is read from the CDK assets bucket, under the asset keys CDK chooses.",
    ],
    [
      wildcardResourceFinding(stack, `${bucket.bucketArn}/*`),
      "The deployment replaces the whole site: every object of the site bucket, which holds nothing else.",
    ],
    [
      "AwsSolutions-IAM5[Resource::*]",
      "CloudFront invalidation actions (cloudfront:CreateInvalidation, GetInvalidation) take no resource narrower than *.",
    ],
  ];
  for (const child of stack.node.children) {
    if (!child.node.id.startsWith("Custom::CDKBucketDeployment")) continue;
    for (const [id, reason] of findings) acknowledgeNag(child, id, reason);
  }
}
