import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { FlywheelStack } from "../../infra/stack.ts";
import { ALL_SCOPES, scopeName } from "../../lib/common/http/access.ts";

type Resource = { Type: string; Properties: Record<string, unknown> };

let app: App;
let template: Template;

beforeAll(() => {
  app = new App({ builtinCloudFormationValidation: false });
  template = Template.fromStack(new FlywheelStack(app, "Flywheel"));
});

const only = (type: string, props: Record<string, unknown> = {}): [string, Resource] => {
  const found = Object.entries(
    template.findResources(type, { Properties: props }) as Record<string, Resource>,
  );
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0] as [string, Resource];
};

const siteBucketId = () =>
  only("AWS::S3::Bucket", { LoggingConfiguration: { LogFilePrefix: "web-bucket/" } })[0];
const distribution = () => only("AWS::CloudFront::Distribution");

describe("web UI hosting", () => {
  it("keeps the site in a private, encrypted, TLS-only bucket", () => {
    const id = siteBucketId();
    template.hasResourceProperties("AWS::S3::Bucket", {
      LoggingConfiguration: { LogFilePrefix: "web-bucket/" },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("lets only the distribution read it, through origin access control", () => {
    const [distributionId, dist] = distribution();
    const oac = only("AWS::CloudFront::OriginAccessControl", {
      OriginAccessControlConfig: Match.objectLike({
        OriginAccessControlOriginType: "s3",
        SigningBehavior: "always",
      }),
    })[0];
    const origins = (dist.Properties.DistributionConfig as { Origins: Record<string, unknown>[] }).Origins;
    expect(origins).toContainEqual(
      expect.objectContaining({
        DomainName: { "Fn::GetAtt": [siteBucketId(), "RegionalDomainName"] },
        OriginAccessControlId: { "Fn::GetAtt": [oac, "Id"] },
      }),
    );
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: siteBucketId() },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Allow",
            Action: "s3:GetObject",
            Principal: { Service: "cloudfront.amazonaws.com" },
            Condition: {
              StringEquals: {
                "AWS:SourceArn": Match.objectLike({
                  "Fn::Join": Match.arrayWith([Match.arrayWith([{ Ref: distributionId }])]),
                }),
              },
            },
          }),
        ]),
      },
    });
  });

  it("serves index.html over HTTPS and sends /api/* uncached to the review API, Authorization included", () => {
    const config = distribution()[1].Properties.DistributionConfig as Record<string, unknown>;
    expect(config).toMatchObject({
      DefaultRootObject: "index.html",
      DefaultCacheBehavior: { ViewerProtocolPolicy: "redirect-to-https", Compress: true },
    });
    const behaviors = config.CacheBehaviors as Record<string, unknown>[];
    expect(behaviors).toHaveLength(1);
    expect(behaviors[0]).toMatchObject({
      PathPattern: "/api/*",
      ViewerProtocolPolicy: "https-only",
      AllowedMethods: ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
      // Managed policies: CachingDisabled and AllViewerExceptHostHeader.
      CachePolicyId: "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
      OriginRequestPolicyId: "b689b0a8-53d0-40ab-baf2-68738e2966ac",
    });
    const apiOrigin = (config.Origins as { Id: string; DomainName: unknown }[]).find(
      (origin) => origin.Id === (behaviors[0] as { TargetOriginId: string }).TargetOriginId,
    );
    expect(JSON.stringify(apiOrigin?.DomainName)).toContain("execute-api");
    expect(JSON.stringify(apiOrigin?.DomainName)).toContain("ReviewApiHttpApi");
  });

  it("deploys the Vite build with a config.json naming the hosted UI and the app client", () => {
    const [, deployment] = only("Custom::CDKBucketDeployment");
    expect(deployment.Properties).toMatchObject({
      DestinationBucketName: { Ref: siteBucketId() },
      DistributionId: { Ref: distribution()[0] },
      DistributionPaths: ["/*"],
      Prune: true,
    });
    expect(deployment.Properties.SourceObjectKeys).toHaveLength(2);
    const markers = JSON.stringify(deployment.Properties.SourceMarkers);
    expect(markers).toContain("ReviewersUserPoolReviewClient");
    expect(markers).toContain("ReviewersUserPoolHostedUi");

    const outdir = app.synth().directory;
    const assets = readdirSync(outdir).filter(
      (name) => name.startsWith("asset.") && existsSync(join(outdir, name, "index.html")),
    );
    expect(assets).toHaveLength(1);
    const site = join(outdir, assets[0] as string);
    expect(readdirSync(join(site, "assets")).some((file) => file.endsWith(".js"))).toBe(true);
    expect(existsSync(join(site, ".source-hash"))).toBe(false);
  });

  it("signs reviewers in through a Cognito domain with the code flow, back to the site only", () => {
    template.hasResourceProperties("AWS::Cognito::UserPoolDomain", {
      Domain: { "Fn::Join": ["", ["flywheel-", { Ref: "AWS::AccountId" }]] },
    });
    const webClientId = (template.toJSON().Outputs.ReviewerClientId.Value as { Ref: string }).Ref;
    const client = template.findResources("AWS::Cognito::UserPoolClient")[webClientId] as Resource;
    const callback = {
      "Fn::Join": ["", ["https://", { "Fn::GetAtt": [distribution()[0], "DomainName"] }, "/"]],
    };
    expect(client.Properties).toMatchObject({
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthFlows: ["code"],
      AllowedOAuthScopes: ["openid", "email", "profile", ...ALL_SCOPES.map(scopeName)],
      CallbackURLs: [callback],
      LogoutURLs: [callback],
      SupportedIdentityProviders: ["COGNITO"],
      GenerateSecret: false,
    });
    template.hasOutput("WebUrl", { Value: callback });
  });

  it("takes the sign-in domain prefix from the context when given", () => {
    const other = new App({
      builtinCloudFormationValidation: false,
      context: { signInDomainPrefix: "acme-review" },
    });
    Template.fromStack(new FlywheelStack(other, "Flywheel")).hasResourceProperties(
      "AWS::Cognito::UserPoolDomain",
      {
        Domain: "acme-review",
      },
    );
  });
});
