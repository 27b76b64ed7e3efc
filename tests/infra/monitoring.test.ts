import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import { Code, Function as LambdaFunction, Runtime } from "aws-cdk-lib/aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { ResilientQueue } from "../../infra/constructs/resilient-queue.ts";
import { Monitoring, oldestMessageThresholdSeconds } from "../../infra/monitoring.ts";
import { FlywheelStack } from "../../infra/stack.ts";
import { METRICS_NAMESPACE } from "../../lib/common/metrics.ts";
import { QUEUES } from "../../lib/common/resources.ts";
import { EVAL_METRICS } from "../../lib/eval/metrics.ts";
import { EXPORT_METRICS } from "../../lib/exports/metrics.ts";
import { IMPORT_METRICS } from "../../lib/import/metrics.ts";
import { INGEST_METRICS } from "../../lib/ingest/metrics.ts";
import { REVIEW_METRICS } from "../../lib/review/metrics.ts";

type Resource = { Type: string; Properties: Record<string, unknown> };
type Dimension = { Name: string; Value: unknown };
type AlarmProps = {
  Namespace?: string;
  MetricName?: string;
  Dimensions?: Dimension[];
  Metrics?: { Id: string; Expression?: string; MetricStat?: { Metric: Record<string, unknown> } }[];
  Threshold: number;
  ComparisonOperator: string;
  TreatMissingData: string;
  AlarmActions: unknown[];
};

let template: Template;

beforeAll(() => {
  const app = new App({ builtinCloudFormationValidation: false });
  template = Template.fromStack(new FlywheelStack(app, "Flywheel"));
});

const resourcesOf = (t: Template, type: string) => t.findResources(type) as Record<string, Resource>;
const alarmsOf = (t: Template): [string, AlarmProps][] =>
  Object.entries(resourcesOf(t, "AWS::CloudWatch::Alarm")).map(([id, r]) => [id, r.Properties as AlarmProps]);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function topicIdOf(t: Template): string {
  const ids = Object.keys(resourcesOf(t, "AWS::SNS::Topic"));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

/** Every queue some other queue dead-letters to, read from the template's redrive policies. */
function deadLetterQueueIds(t: Template): string[] {
  return Object.values(resourcesOf(t, "AWS::SQS::Queue")).flatMap((queue) => {
    const redrive = queue.Properties.RedrivePolicy as
      | { deadLetterTargetArn: { "Fn::GetAtt": [string] } }
      | undefined;
    return redrive ? [redrive.deadLetterTargetArn["Fn::GetAtt"][0]] : [];
  });
}

const mainQueueIds = (t: Template): string[] =>
  Object.entries(resourcesOf(t, "AWS::SQS::Queue"))
    .filter(([, queue]) => queue.Properties.RedrivePolicy !== undefined)
    .map(([id]) => id);

type MetricRef = { Namespace?: string; MetricName?: string; Dimensions?: Dimension[] };

/** The metrics an alarm reads, whether the template states one metric or metric math (`Metrics`). */
const metricsOf = (alarm: AlarmProps): MetricRef[] => [
  ...(alarm.MetricName ? [alarm] : []),
  ...(alarm.Metrics ?? []).flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric as MetricRef] : [])),
];

const onQueue = (alarm: AlarmProps, queueId: string, metricName?: string) =>
  metricsOf(alarm).some(
    (metric) =>
      (metricName === undefined || metric.MetricName === metricName) &&
      (metric.Dimensions ?? []).some(
        (d) => d.Name === "QueueName" && same(d.Value, { "Fn::GetAtt": [queueId, "QueueName"] }),
      ),
  );

const onFunction = (alarm: AlarmProps, functionId: string, metricName: string) =>
  metricsOf(alarm).some(
    (metric) =>
      metric.Namespace === "AWS/Lambda" &&
      metric.MetricName === metricName &&
      (metric.Dimensions ?? []).some((d) => d.Name === "FunctionName" && same(d.Value, { Ref: functionId })),
  );

describe("alarm topic", () => {
  it("is a stack output, AlarmTopicArn", () => {
    template.hasOutput("AlarmTopicArn", { Value: { Ref: topicIdOf(template) } });
  });

  it("is encrypted with a rotated key CloudWatch may use, and refuses requests without TLS", () => {
    const topic = resourcesOf(template, "AWS::SNS::Topic")[topicIdOf(template)] as Resource;
    const keyId = (topic.Properties.KmsMasterKeyId as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
    const key = resourcesOf(template, "AWS::KMS::Key")[keyId] as Resource;
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const statements = (key.Properties.KeyPolicy as { Statement: Record<string, unknown>[] }).Statement;
    expect(
      statements.some(
        (s) =>
          same(s.Principal, { Service: "cloudwatch.amazonaws.com" }) &&
          same(s.Action, ["kms:Decrypt", "kms:GenerateDataKey*"]),
      ),
    ).toBe(true);
    const policies = Object.values(resourcesOf(template, "AWS::SNS::TopicPolicy")).filter((p) =>
      same(p.Properties.Topics, [{ Ref: topicIdOf(template) }]),
    );
    expect(JSON.stringify(policies)).toContain('"aws:SecureTransport":"false"');
  });
});

describe("alarms", () => {
  it("every alarm notifies the topic and treats missing data as not breaching", () => {
    const alarms = alarmsOf(template);
    expect(alarms.length).toBeGreaterThan(0);
    for (const [id, alarm] of alarms) {
      expect(alarm.AlarmActions, id).toEqual([{ Ref: topicIdOf(template) }]);
      expect(alarm.TreatMissingData, id).toBe("notBreaching");
    }
  });

  it("every dead-letter queue has exactly one alarm, on a visible message", () => {
    const dlqs = deadLetterQueueIds(template);
    expect(dlqs).toHaveLength(Object.keys(QUEUES).length);
    for (const dlq of dlqs) {
      const alarms = alarmsOf(template).filter(([, alarm]) => onQueue(alarm, dlq));
      expect(alarms, `alarms on ${dlq}`).toHaveLength(1);
      const [, alarm] = alarms[0] as [string, AlarmProps];
      expect(onQueue(alarm, dlq, "ApproximateNumberOfMessagesVisible")).toBe(true);
      expect(metricsOf(alarm)[0]?.Namespace).toBe("AWS/SQS");
      expect(alarm).toMatchObject({
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
      });
    }
  });

  it("every queue with a dead-letter queue has an alarm on the age of its oldest message", () => {
    const queues = mainQueueIds(template);
    expect(queues).toHaveLength(Object.keys(QUEUES).length);
    const thresholds = Object.values(QUEUES).map((q) => q.maxReceiveCount * q.visibilityTimeoutSeconds);
    for (const queue of queues) {
      const alarms = alarmsOf(template).filter(([, alarm]) =>
        onQueue(alarm, queue, "ApproximateAgeOfOldestMessage"),
      );
      expect(alarms, `age alarms on ${queue}`).toHaveLength(1);
      expect(thresholds).toContain((alarms[0] as [string, AlarmProps])[1].Threshold);
    }
  });

  it("every Lambda function of the template has an errors alarm and a throttles alarm", () => {
    const functions = Object.keys(resourcesOf(template, "AWS::Lambda::Function"));
    // The project's seven functions, plus the handlers CDK adds for deploy time.
    expect(functions.length).toBeGreaterThanOrEqual(7);
    for (const fn of functions) {
      for (const metric of ["Errors", "Throttles"]) {
        const alarms = alarmsOf(template).filter(([, alarm]) => onFunction(alarm, fn, metric));
        expect(alarms, `${metric} alarms on ${fn}`).toHaveLength(1);
        expect((alarms[0] as [string, AlarmProps])[1]).toMatchObject({
          Threshold: 1,
          ComparisonOperator: "GreaterThanOrEqualToThreshold",
        });
      }
    }
  });

  it("the API has a 5xx rate alarm and a p99 latency alarm", () => {
    const apiId = Object.keys(resourcesOf(template, "AWS::ApiGatewayV2::Api"))[0] as string;
    const onApi = (metric: MetricRef, name: string) =>
      metric.Namespace === "AWS/ApiGateway" &&
      metric.MetricName === name &&
      same(metric.Dimensions, [{ Name: "ApiId", Value: { Ref: apiId } }]);
    const rate = alarmsOf(template).filter(([, alarm]) => metricsOf(alarm).some((m) => onApi(m, "5xx")));
    expect(rate).toHaveLength(1);
    const [, rateAlarm] = rate[0] as [string, AlarmProps];
    expect(metricsOf(rateAlarm).some((m) => onApi(m, "Count"))).toBe(true);
    expect(rateAlarm.Metrics?.find((m) => m.Expression)?.Expression).toContain("errors / requests");

    const latency = alarmsOf(template).filter(([, alarm]) =>
      metricsOf(alarm).some((m) => onApi(m, "Latency")),
    );
    expect(latency).toHaveLength(1);
    expect(JSON.stringify((latency[0] as [string, AlarmProps])[1])).toContain('"p99"');
  });
});

describe("dashboard", () => {
  it("exists once and shows every function, every queue and the API", () => {
    const dashboards = Object.values(resourcesOf(template, "AWS::CloudWatch::Dashboard"));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify((dashboards[0] as Resource).Properties.DashboardBody);
    for (const fn of Object.keys(resourcesOf(template, "AWS::Lambda::Function"))) {
      expect(body, fn).toContain(JSON.stringify({ Ref: fn }));
    }
    for (const queue of [...mainQueueIds(template), ...deadLetterQueueIds(template)]) {
      expect(body, queue).toContain(JSON.stringify({ "Fn::GetAtt": [queue, "QueueName"] }));
    }
    const apiId = Object.keys(resourcesOf(template, "AWS::ApiGatewayV2::Api"))[0] as string;
    expect(body).toContain(JSON.stringify({ Ref: apiId }));
    for (const heading of ["Imports", "Review API", "Ingest", "Judge", "Exports"]) {
      expect(body).toContain(heading);
    }
  });
});

/** The project's functions: those whose environment names the service (CDK's own handlers do not). */
const projectFunctions = (t: Template) =>
  Object.entries(resourcesOf(t, "AWS::Lambda::Function")).filter(
    ([, fn]) =>
      (fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables
        ?.POWERTOOLS_SERVICE_NAME !== undefined,
  );

describe("the functions' own metrics", () => {
  it("every project function emits to the Flywheel namespace", () => {
    const fns = projectFunctions(template);
    expect(fns.length).toBeGreaterThanOrEqual(7);
    for (const [id, fn] of fns) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables.POWERTOOLS_METRICS_NAMESPACE, id).toBe(METRICS_NAMESPACE);
    }
  });

  it("the dashboard shows every metric the capabilities count, in that namespace", () => {
    const [dashboard] = Object.values(resourcesOf(template, "AWS::CloudWatch::Dashboard"));
    const body = (dashboard as Resource).Properties.DashboardBody as { "Fn::Join": [string, unknown[]] };
    const text = body["Fn::Join"][1].map((part) => (typeof part === "string" ? part : "REF")).join("");
    const widgets = (JSON.parse(text) as { widgets: { properties: { metrics?: unknown[][] } }[] }).widgets;
    const lines = widgets.flatMap((widget) => widget.properties.metrics ?? []);
    const own = lines.filter((line) => line[0] === METRICS_NAMESPACE).map((line) => line[1]);
    const searches = lines
      .map((line) => (line.at(-1) as { expression?: string }).expression ?? "")
      .filter((expression) => expression.startsWith("SEARCH("));
    const all = [IMPORT_METRICS, INGEST_METRICS, REVIEW_METRICS, EXPORT_METRICS, EVAL_METRICS].flatMap(
      (group) => Object.values(group),
    );
    for (const metric of all) {
      const shown =
        own.includes(metric.name) || searches.some((s) => s.includes(`MetricName="${metric.name}"`));
      expect(shown, metric.name).toBe(true);
    }
    // A breakdown is a search over the closed dimension, never a per-run or per-model series.
    expect(searches).toContain(
      `SEARCH('{${METRICS_NAMESPACE},capability,reason,service} MetricName="LinesQuarantined" capability="import" service="flywheel"', 'Sum', 300)`,
    );
    for (const search of searches) expect(search).not.toMatch(/run_id|model/);
  });
});

describe("tracing", () => {
  it("every project function is traced actively and may write to X-Ray", () => {
    const policies = Object.values(resourcesOf(template, "AWS::IAM::Policy"));
    for (const [id, fn] of projectFunctions(template)) {
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: "Active" });
      const role = (fn.Properties.Role as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
      const statements = policies
        .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(role))
        .flatMap(
          (policy) => (policy.Properties.PolicyDocument as { Statement: { Action: unknown }[] }).Statement,
        );
      const actions = statements.flatMap((statement) => [statement.Action].flat());
      expect(actions, id).toEqual(
        expect.arrayContaining(["xray:PutTraceSegments", "xray:PutTelemetryRecords"]),
      );
    }
  });
});

describe("Monitoring", () => {
  it("alarms on a queue and a function it was never told about", () => {
    const stack = new Stack(new App(), "Bare");
    const queue = new ResilientQueue(stack, "Extra", { declaration: QUEUES.corrections });
    const fn = new LambdaFunction(stack, "Fn", {
      runtime: Runtime.NODEJS_22_X,
      handler: "index.handler",
      code: Code.fromInline("export const handler = async () => {};"),
    });
    queue.addConsumer(fn);
    new Monitoring(stack, "Monitoring", { api: new HttpApi(stack, "Api") });
    const bare = Template.fromStack(stack);
    const [fnId] = Object.keys(resourcesOf(bare, "AWS::Lambda::Function"));
    const [dlqId] = deadLetterQueueIds(bare);
    const [queueId] = mainQueueIds(bare);
    expect(alarmsOf(bare).filter(([, a]) => onFunction(a, fnId as string, "Errors"))).toHaveLength(1);
    expect(alarmsOf(bare).filter(([, a]) => onQueue(a, dlqId as string))).toHaveLength(1);
    const age = alarmsOf(bare).filter(([, a]) => onQueue(a, queueId as string));
    expect(age).toHaveLength(1);
    expect((age[0] as [string, AlarmProps])[1].Threshold).toBe(oldestMessageThresholdSeconds(queue));
  });
});
