import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import {
  HttpApi,
  HttpMethod,
  type HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { BUCKET_PREFIXES } from "../lib/common/resources.ts";
import { acknowledgeNag } from "./constructs/nag.ts";
import { ProjectFunction } from "./constructs/project-function.ts";
import { RUN_QUARANTINE_PREFIX } from "./uploads.ts";

export interface ReviewApiProps {
  readonly table: ITable;
  readonly bucket: IBucket;
  /** The API handler, `functions/api.ts`. */
  readonly apiEntry: string;
  /**
   * The reviewers' JWT authorizer: it guards every route but the health check and ingest
   * (which checks each product's own bearer token in the function).
   */
  readonly authorizer: IHttpRouteAuthorizer;
  readonly bundling?: BundlingOptions;
}

/** The HTTP API behind the review UI, the CLI and the products: one function serves `/api/*`. */
export class ReviewApi extends Construct {
  readonly handler: ProjectFunction;
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;

  constructor(scope: Construct, id: string, props: ReviewApiProps) {
    super(scope, id);

    this.handler = new ProjectFunction(this, "Handler", {
      entry: props.apiEntry,
      description: "Serves the review HTTP API",
      // API Gateway gives up on an integration after 30 seconds.
      timeout: Duration.seconds(29),
      bundling: props.bundling,
    })
      .bindTable(props.table, "readUpdate")
      // Reviews read run folders and big bodies; `POST /api/sft/import` runs an import, which
      // writes bodies and quarantine files, and copies its quarantine file into a part when it
      // hands the rest of a run on. Listing is limited to the run folders.
      .bindBucket(props.bucket, {
        read: [BUCKET_PREFIXES.runs, BUCKET_PREFIXES.blobs, RUN_QUARANTINE_PREFIX],
        list: [BUCKET_PREFIXES.runs],
        write: [BUCKET_PREFIXES.quarantine, BUCKET_PREFIXES.blobs],
      });
    this.handler.addEnvironment("RUNS_PREFIX", BUCKET_PREFIXES.runs);

    this.httpApi = new HttpApi(this, "HttpApi", {
      description: "Flywheel review API",
      // The stage is added below so that it can carry access logging.
      createDefaultStage: false,
    });

    const accessLogs = new LogGroup(this, "AccessLogs", {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = this.httpApi.addStage("DefaultStage", {
      stageName: "$default",
      autoDeploy: true,
      // The open routes (health, ingest) can be called by anyone; cap what that can cost.
      throttle: { rateLimit: 50, burstLimit: 100 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            ip: "$context.identity.sourceIp",
            requestTime: "$context.requestTime",
            routeKey: "$context.routeKey",
            status: "$context.status",
            protocol: "$context.protocol",
            responseLength: "$context.responseLength",
            latency: "$context.responseLatency",
            integrationError: "$context.integrationErrorMessage",
          }),
        ),
      },
    });

    const integration = new HttpLambdaIntegration("ApiIntegration", this.handler);
    this.httpApi.addRoutes({
      path: "/api/{proxy+}",
      methods: [HttpMethod.ANY],
      integration,
      authorizer: props.authorizer,
    });
    // The more specific routes win over the proxy: these two are the only ones without the JWT.
    const openRoutes: [string, HttpMethod, string][] = [
      ["/api/health", HttpMethod.GET, "The health check answers { ok: true } and reads nothing."],
      [
        "/api/sft/ingest",
        HttpMethod.POST,
        "Products ingest with their own per-source bearer tokens, which the function checks; they have no reviewer account.",
      ],
    ];
    for (const [path, method, reason] of openRoutes) {
      for (const route of this.httpApi.addRoutes({ path, methods: [method], integration })) {
        acknowledgeNag(route, "AwsSolutions-APIG4", reason);
      }
    }
  }
}
