import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { FlywheelStack } from "./stack.ts";

const app = new App();
new FlywheelStack(app, "Flywheel", {
  description: "Flywheel: turns LLM failures and human corrections into training datasets",
});
// cdk-nag 3 runs as a policy-validation plugin; synthesis fails on any unacknowledged finding.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
