import type { Template } from "aws-cdk-lib/assertions";
import { expect } from "vitest";

/** A resource of a synthesized template. */
export type Resource = { Type: string; Properties: Record<string, unknown> };
/** A statement of an IAM policy document. */
export type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** The one resource of `type` whose properties match `props` (fails unless exactly one): its logical id and itself. */
export function onlyResource(
  template: Template,
  type: string,
  props: Record<string, unknown> = {},
): [string, Resource] {
  const found = Object.entries(
    template.findResources(type, { Properties: props }) as Record<string, Resource>,
  );
  expect(found, `exactly one ${type} matching ${JSON.stringify(props)}`).toHaveLength(1);
  return found[0] as [string, Resource];
}

/** Every statement of the IAM policies attached to a function's role. */
export function statementsOf(template: Template, fn: Resource): Statement[] {
  const roleId = (fn.Properties.Role as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
  return Object.values(template.findResources("AWS::IAM::Policy") as Record<string, Resource>)
    .filter((policy) =>
      (policy.Properties.Roles as unknown[]).some(
        (r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }),
      ),
    )
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

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
