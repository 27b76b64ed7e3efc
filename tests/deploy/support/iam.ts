import type { AwsCall } from "./recording-proxy.ts";
import { type LocalResourceMap, resolveValue } from "./resolve.ts";
import type { CfnTemplate } from "./synth.ts";

/** A policy statement with its resources resolved to the local resources' ARNs. */
export interface ResolvedStatement {
  readonly effect: "Allow" | "Deny";
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly conditions: Record<string, Record<string, string[]>>;
  /** Where it comes from, for messages. */
  readonly source: string;
}

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/**
 * AWS managed policies a role may carry, as the statements they grant. A managed policy not
 * listed here grants nothing in this check, so a call that needs it fails loudly.
 */
const MANAGED_POLICIES: Record<string, ResolvedStatement[]> = {
  "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
    {
      effect: "Allow",
      actions: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
      resources: ["*"],
      conditions: {},
      source: "AWSLambdaBasicExecutionRole",
    },
  ],
};

/** Every statement the template attaches to `roleId`: inline, attached policies and managed ones. */
export function statementsOfRole(
  template: CfnTemplate,
  roleId: string,
  map: LocalResourceMap,
): ResolvedStatement[] {
  const role = template.Resources[roleId];
  if (role?.Type !== "AWS::IAM::Role") throw new Error(`${roleId} is not a role of the template`);
  const documents: { source: string; document: unknown }[] = [];
  for (const inline of asArray(
    role.Properties?.Policies as { PolicyName: string; PolicyDocument: unknown }[],
  )) {
    documents.push({ source: `${roleId}/${inline.PolicyName}`, document: inline.PolicyDocument });
  }
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== "AWS::IAM::Policy") continue;
    const roles = asArray(resource.Properties?.Roles as unknown[]);
    if (!roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }))) continue;
    documents.push({ source: id, document: resource.Properties?.PolicyDocument });
  }
  const statements = documents.flatMap(({ source, document }) =>
    asArray((document as { Statement?: unknown }).Statement as Record<string, unknown>[]).map(
      (s): ResolvedStatement => {
        if (s.NotAction || s.NotResource || s.Principal)
          throw new Error(`${source}: unsupported statement form`);
        return {
          effect: s.Effect === "Deny" ? "Deny" : "Allow",
          actions: asArray(s.Action as string | string[]),
          resources: asArray(s.Resource as unknown).map((r) => resolveValue(r, map)),
          conditions: normaliseConditions(s.Condition),
          source,
        };
      },
    ),
  );
  for (const managed of asArray(role.Properties?.ManagedPolicyArns as unknown[])) {
    statements.push(...(MANAGED_POLICIES[resolveValue(managed, map)] ?? []));
  }
  return statements;
}

function normaliseConditions(condition: unknown): Record<string, Record<string, string[]>> {
  const result: Record<string, Record<string, string[]>> = {};
  for (const [operator, keys] of Object.entries(
    (condition ?? {}) as Record<string, Record<string, unknown>>,
  )) {
    result[operator] = {};
    for (const [key, values] of Object.entries(keys)) {
      (result[operator] as Record<string, string[]>)[key] = asArray(values as string | string[]).map(String);
    }
  }
  return result;
}

/** IAM's wildcard match: `*` any run of characters, `?` one; actions case-insensitively. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, ignoreCase ? "is" : "s").test(value);
}

/** Only the condition operators the stack uses are understood; any other denies. */
function conditionsHold(
  conditions: ResolvedStatement["conditions"],
  context: Record<string, string>,
): boolean {
  return Object.entries(conditions).every(([operator, keys]) =>
    Object.entries(keys).every(([key, values]) => {
      const given = context[key];
      if (given === undefined) return false;
      if (operator === "StringLike") return values.some((v) => wildcardMatch(v, given));
      if (operator === "StringEquals") return values.includes(given);
      return false;
    }),
  );
}

export const statementMatches = (
  statement: ResolvedStatement,
  call: Pick<AwsCall, "action" | "resource" | "context">,
) =>
  statement.actions.some((a) => wildcardMatch(a, call.action, true)) &&
  statement.resources.some((r) => wildcardMatch(r, call.resource)) &&
  conditionsHold(statement.conditions, call.context);

/** Allowed when a statement allows it and none denies it. */
export function isAllowed(statements: readonly ResolvedStatement[], call: AwsCall): boolean {
  const matching = statements.filter((s) => statementMatches(s, call));
  return matching.some((s) => s.effect === "Allow") && !matching.some((s) => s.effect === "Deny");
}

/** The calls `statements` do not allow, each as a readable line. */
export function deniedCalls(statements: readonly ResolvedStatement[], calls: readonly AwsCall[]): string[] {
  const denied = new Set<string>();
  for (const call of calls) {
    if (isAllowed(statements, call)) continue;
    const condition = Object.keys(call.context).length ? ` ${JSON.stringify(call.context)}` : "";
    denied.add(`${call.action} on ${call.resource}${condition} (${call.request})`);
  }
  return [...denied];
}

/** An action of a statement that no call used, on any of the statement's resources. */
export interface UnusedAction {
  readonly action: string;
  readonly statement: ResolvedStatement;
}

/**
 * The actions of each Allow statement that no call used: grants wider than what the calls needed.
 * An action counts as used when any call matched it on any of the statement's resources.
 */
export function unusedActions(
  statements: readonly ResolvedStatement[],
  calls: readonly AwsCall[],
): UnusedAction[] {
  const unused: UnusedAction[] = [];
  for (const statement of statements) {
    if (statement.effect !== "Allow") continue;
    for (const action of statement.actions) {
      const used = calls.some((call) => statementMatches({ ...statement, actions: [action] }, call));
      if (!used) unused.push({ action, statement });
    }
  }
  return unused;
}
