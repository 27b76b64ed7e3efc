import { App, type PolicyValidationPluginReport, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { FlywheelStack } from "../../infra/stack.ts";
import { ROUTE_ACCESS } from "../../lib/common/http/access.ts";

let app: App;
let stack: FlywheelStack;
let report: PolicyValidationPluginReport;

beforeAll(() => {
  app = new App();
  stack = new FlywheelStack(app, "Flywheel");
  // The same registration as infra/app.ts: synthesis fails on any unacknowledged finding.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  report = new AwsSolutionsChecks(app).validateScope(stack);
});

const findings = (severity: "error" | "warning") =>
  report.violations
    .filter((violation) => violation.severity === severity && violation.ruleName.startsWith("AwsSolutions-"))
    .map(
      (violation) =>
        `${violation.ruleName} at ${violation.violatingResources.map((r) => r.constructPath).join(", ")}`,
    );

function* constructs(root: IConstruct): Generator<IConstruct> {
  yield root;
  for (const child of root.node.children) yield* constructs(child);
}

describe("cdk-nag AwsSolutions checks", () => {
  it("leave no unacknowledged errors", () => {
    expect(findings("error")).toEqual([]);
  });

  it("leave no unacknowledged warnings", () => {
    expect(findings("warning")).toEqual([]);
  });

  it("let the app synthesise with the checks registered", () => {
    expect(() => app.synth()).not.toThrow();
  });

  it("acknowledge every finding with a written reason", () => {
    const acknowledgements = [...constructs(stack)].flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>)),
    );
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledgements) {
      expect(reason.trim().length, `reason for ${id}`).toBeGreaterThan(20);
    }
  });

  it("acknowledge a missing authorizer only on the open routes of ROUTE_ACCESS", () => {
    const apig4 = [...constructs(stack)].filter((construct) =>
      construct.node.metadata.some(
        (entry) =>
          entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY &&
          Object.keys(entry.data as object).some((id) => id.endsWith("AwsSolutions-APIG4")),
      ),
    );
    const open = Object.entries(ROUTE_ACCESS)
      .filter(([, access]) => access === "open")
      .map(([route]) => `Flywheel/ReviewApi/HttpApi/${route.replace(" ", "").replaceAll("/", "--")}`);
    expect(open).toContain("Flywheel/ReviewApi/HttpApi/GET--api--health");
    expect(open).toContain("Flywheel/ReviewApi/HttpApi/POST--api--sft--ingest");
    expect(apig4.map((construct) => construct.node.path).sort()).toEqual(open.sort());
  });
});

describe("cdk-nag AwsSolutions checks with machine clients declared", () => {
  it("leave no unacknowledged finding: the clients' secrets and the function reading them from Cognito", () => {
    const machineApp = new App({
      context: {
        "aws:cdk:bundling-stacks": [],
        machineClients: [
          { name: "kiwi", roles: ["product"], source: "kiwi" },
          { name: "harness", roles: ["exporter"] },
        ],
      },
    });
    const machineStack = new FlywheelStack(machineApp, "Flywheel");
    const machineReport = new AwsSolutionsChecks(machineApp).validateScope(machineStack);
    const unacknowledged = machineReport.violations
      .filter((violation) => violation.ruleName.startsWith("AwsSolutions-"))
      .map(
        (violation) =>
          `${violation.ruleName} at ${violation.violatingResources.map((r) => r.constructPath).join(", ")}`,
      );
    expect(unacknowledged).toEqual([]);
  });
});
