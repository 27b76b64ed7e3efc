import type { Template } from "aws-cdk-lib/assertions";

type Resource = { Type: string; Properties: Record<string, unknown> };

/** The logical id of the function behind an HTTP API route, e.g. `GET /api/health`. */
export function functionIdBehind(template: Template, routeKey: string): string {
  const routes = Object.values(
    template.findResources("AWS::ApiGatewayV2::Route", { Properties: { RouteKey: routeKey } }),
  ) as Resource[];
  if (routes.length !== 1) throw new Error(`expected one route ${routeKey}, found ${routes.length}`);
  const integrationId = JSON.stringify(routes[0]?.Properties.Target).match(/"Ref":"([^"]+)"/)?.[1] ?? "";
  const integration = template.findResources("AWS::ApiGatewayV2::Integration")[integrationId] as
    | Resource
    | undefined;
  if (!integration) throw new Error(`no integration ${integrationId} behind ${routeKey}`);
  return (integration.Properties.IntegrationUri as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
}

/** The function behind an HTTP API route. */
export function functionBehind(template: Template, routeKey: string): Resource {
  const id = functionIdBehind(template, routeKey);
  const fn = template.findResources("AWS::Lambda::Function")[id] as Resource | undefined;
  if (!fn) throw new Error(`no function ${id}`);
  return fn;
}

/** The route the API function serves that every deployment has: the health check. */
export const API_ROUTE = "GET /api/health";
