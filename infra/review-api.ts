import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import {
  type CfnStage,
  HttpApi,
  HttpMethod,
  type HttpRoute,
  type HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
  type ThrottleSettings,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import {
  type DeclaredRoute,
  ROUTE_ACCESS,
  type RouteAccess,
  type Scope,
  scopeName,
} from "../lib/common/http/access.ts";
import { BUCKET_PREFIXES, INGEST_QUARANTINE_PREFIX } from "../lib/common/resources.ts";
import { acknowledgeNag } from "./constructs/nag.ts";
import { ProjectFunction } from "./constructs/project-function.ts";
import { RUN_QUARANTINE_PREFIX } from "./uploads.ts";

/** Routes of the same kind share limits; each route is throttled on its own at its family's. */
export type ThrottleFamily = "open" | "ingest" | "eval-write" | "review" | "jobs";

/** Requests per second (steady, burst) each route of a family takes before API Gateway answers 429. */
export const ROUTE_THROTTLES: Record<ThrottleFamily, Required<ThrottleSettings>> = {
  /** Open routes that read no data (the health check, the API's description): a monitor's occasional call. */
  open: { rateLimit: 5, burstLimit: 10 },
  /** The open ingest route: products pushing corrections. */
  ingest: { rateLimit: 50, burstLimit: 100 },
  /** Products recording chat sessions and their users' feedback. */
  "eval-write": { rateLimit: 50, burstLimit: 100 },
  /** People at work: the review queue and decisions, and reading runs, eval results, provenance. */
  review: { rateLimit: 25, burstLimit: 50 },
  /** What starts costly work or changes the deployment: exports, judge runs, admin. */
  jobs: { rateLimit: 5, burstLimit: 10 },
};

/** The stage's default, for a route with no setting of its own (there is none): the strictest. */
export const DEFAULT_ROUTE_THROTTLE: Required<ThrottleSettings> = { rateLimit: 5, burstLimit: 10 };

const SCOPE_FAMILIES: Record<Scope, ThrottleFamily> = {
  review: "review",
  "eval.read": "review",
  "provenance.read": "review",
  "eval.write": "eval-write",
  ingest: "ingest",
  export: "jobs",
  "eval.judge": "jobs",
  admin: "jobs",
};

/**
 * The routes without the JWT authorizer: each says why (the cdk-nag acknowledgement) and how it
 * is throttled. An open route of ROUTE_ACCESS missing here fails the synth.
 */
const OPEN_ROUTES: Record<string, { readonly family: ThrottleFamily; readonly reason: string }> = {
  "GET /api/health": {
    family: "open",
    reason:
      "The health check answers { ok: true } and reads nothing; it is throttled on its own, apart from every other route.",
  },
  "GET /api/openapi.json": {
    family: "open",
    reason:
      "The API's OpenAPI description lists routes and schemas, no data; it is throttled on its own, apart from every other route.",
  },
  "POST /api/sft/ingest": {
    family: "ingest",
    reason:
      "Products authenticate with their per-source bearer token or their client-credentials token, which the ingest function checks before it reads the body; that function may only insert, and the route is throttled apart from the reviewers' routes.",
  },
};

function openRoute(route: DeclaredRoute) {
  const open = OPEN_ROUTES[route];
  if (!open) {
    throw new Error(
      `${route} is open (no token at the gateway): add it to OPEN_ROUTES in infra/review-api.ts with the reason and its throttle family`,
    );
  }
  return open;
}

/** The throttle family of a declared route. */
export function throttleFamilyOf(route: DeclaredRoute): ThrottleFamily {
  const access: RouteAccess = ROUTE_ACCESS[route];
  return access === "open" ? openRoute(route).family : SCOPE_FAMILIES[access];
}

/** `GET /api/sft/candidates/:id` → `GET /api/sft/candidates/{id}`, as API Gateway writes a route key. */
export function gatewayRouteKey(route: DeclaredRoute): string {
  return route.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
}

export interface ReviewApiProps {
  readonly table: ITable;
  readonly bucket: IBucket;
  /** The API handler, `functions/api.ts`. */
  readonly apiEntry: string;
  /**
   * The JWT authorizer: it guards every route but the open ones (ROUTE_ACCESS), each with the
   * scope the route needs.
   */
  readonly authorizer: IHttpRouteAuthorizer;
  /** Routes another function serves (ingest has a function of its own); the API function serves the rest. */
  readonly routeHandlers?: Partial<Record<DeclaredRoute, IFunction>>;
  readonly bundling?: BundlingOptions;
}

/**
 * The HTTP API behind the review UI, the CLI and the products: one route per entry of
 * ROUTE_ACCESS, each scoped route checked by the JWT authorizer for its scope, each route
 * throttled at its family's limits; one function serves them all but those given to another.
 */
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
      // hands the rest of a run on. The quarantine routes read runs' quarantine files and list
      // and read the ingest path's refused messages. Listing is limited to the run folders and
      // the ingest quarantine.
      .bindBucket(props.bucket, {
        read: [BUCKET_PREFIXES.runs, BUCKET_PREFIXES.blobs, RUN_QUARANTINE_PREFIX, INGEST_QUARANTINE_PREFIX],
        list: [BUCKET_PREFIXES.runs, INGEST_QUARANTINE_PREFIX],
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
      // Every route has limits of its own (below); this default covers none of them.
      throttle: DEFAULT_ROUTE_THROTTLE,
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
            authorizerError: "$context.authorizer.error",
          }),
        ),
      },
    });

    // One integration per function. No catch-all route: API Gateway answers 404 itself for a
    // route it does not have, and every route it has is declared with its scope.
    const integrations = new Map<IFunction, HttpLambdaIntegration>();
    const integrationOf = (fn: IFunction) => {
      let integration = integrations.get(fn);
      if (!integration) {
        const name = fn === this.handler ? "ApiIntegration" : `${fn.node.id}Integration`;
        // One invoke permission per function for this API's routes, not one per route: the
        // function's resource policy (20 KB at most) stays the same size however many routes
        // ROUTE_ACCESS declares; the API has no route but those.
        integration = new HttpLambdaIntegration(name, fn, { scopePermissionToRoute: false });
        integrations.set(fn, integration);
      }
      return integration;
    };
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    const routes: HttpRoute[] = [];
    for (const [route, access] of Object.entries(ROUTE_ACCESS) as [DeclaredRoute, RouteAccess][]) {
      const key = gatewayRouteKey(route);
      const [method, path] = key.split(" ") as [keyof typeof HttpMethod, string];
      const integration = integrationOf(props.routeHandlers?.[route] ?? this.handler);
      const added =
        access === "open"
          ? this.httpApi.addRoutes({ path, methods: [HttpMethod[method]], integration })
          : this.httpApi.addRoutes({
              path,
              methods: [HttpMethod[method]],
              integration,
              authorizer: props.authorizer,
              authorizationScopes: [scopeName(access)],
            });
      if (access === "open") {
        const { reason } = openRoute(route);
        for (const gatewayRoute of added) acknowledgeNag(gatewayRoute, "AwsSolutions-APIG4", reason);
      }
      routes.push(...added);
      const limits = ROUTE_THROTTLES[throttleFamilyOf(route)];
      routeSettings[key] = { ThrottlingRateLimit: limits.rateLimit, ThrottlingBurstLimit: limits.burstLimit };
    }
    // A route's settings name its key, which must exist before the stage is updated.
    (this.stage.node.defaultChild as CfnStage).routeSettings = routeSettings;
    for (const route of routes) this.stage.node.addDependency(route);
  }
}
