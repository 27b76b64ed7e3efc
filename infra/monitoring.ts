import { CfnResource, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type { IHttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  type IWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Topic } from "aws-cdk-lib/aws-sns";
import { Construct, type IConstruct } from "constructs";
import { METRICS_NAMESPACE, type MetricCapability, type MetricSpec } from "../lib/common/metrics.ts";
import { EVAL_METRICS } from "../lib/eval/metrics.ts";
import { EXPORT_METRICS } from "../lib/exports/metrics.ts";
import { IMPORT_METRICS } from "../lib/import/metrics.ts";
import { INGEST_METRICS } from "../lib/ingest/metrics.ts";
import { REVIEW_METRICS } from "../lib/review/metrics.ts";
import { ProjectFunction, SERVICE_NAME } from "./constructs/project-function.ts";
import { ResilientQueue } from "./constructs/resilient-queue.ts";

const PERIOD = Duration.minutes(5);

/** The API's 5xx answers, as a percentage of its requests over five minutes, that raise the alarm. */
export const API_5XX_PERCENT_THRESHOLD = 5;
/** The API's p99 latency (ms) that raises the alarm when it lasts three periods of five minutes. */
export const API_P99_LATENCY_THRESHOLD_MS = 5_000;

/**
 * The oldest message's age (seconds) past which a queue is not draining: older than any message
 * could be while it is merely retried (every receive it gets, each a full visibility timeout, after
 * which it would sit in the dead-letter queue instead), so it waits behind consumers that do not
 * keep up, or none at all.
 */
export const oldestMessageThresholdSeconds = (queue: ResilientQueue): number =>
  queue.declaration.maxReceiveCount * queue.declaration.visibilityTimeoutSeconds;

/** A Lambda function of the stack, whoever defined it: ours, or a handler CDK adds for deploy time. */
export interface MonitoredFunction {
  /** Its path below the stack, e.g. `ReviewApi/Handler`: a heading a person recognises. */
  readonly label: string;
  /**
   * The capability it belongs to (the stack's child it lives under), e.g. `ReviewApi`; for a
   * handler CDK adds at the top of the stack, `DEPLOY_TIME_HANDLERS`.
   */
  readonly capability: string;
  /** Its name, as the `FunctionName` dimension of AWS/Lambda. */
  readonly functionName: string;
}

export interface MonitoringProps {
  /** The HTTP API: its 5xx rate and p99 latency are alarmed on. */
  readonly api: IHttpApi;
}

/**
 * Alarms and the dashboard. Created last in the stack: it finds every Lambda function and every
 * resilient queue already in the stack, so a function or queue added later gets its alarms
 * without a line here. Every alarm notifies the alarm topic; none fires on missing data (a quiet
 * function or queue publishes none).
 *
 * - each dead-letter queue with a message in it;
 * - each function's errors and throttles;
 * - each queue whose oldest message is older than it could be were the queue draining;
 * - the API's 5xx rate and p99 latency.
 *
 * It also names the namespace the functions' own metrics go to (`POWERTOOLS_METRICS_NAMESPACE` on
 * every project function, read by `lib/common/metrics.ts`), and the dashboard shows them.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly dashboard: Dashboard;
  readonly functions: readonly MonitoredFunction[];
  readonly queues: readonly ResilientQueue[];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);

    // CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key (its policy
    // cannot be changed to let CloudWatch use it), so the topic has a key of its own.
    const key = new Key(this, "AlarmTopicKey", {
      description: "Encrypts the Flywheel alarm topic's notifications",
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      // It protects notifications in flight only; nothing stored outlives the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
        conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
      }),
    );
    this.topic = new Topic(this, "AlarmTopic", {
      displayName: "Flywheel alarms",
      masterKey: key,
      enforceSSL: true,
    });
    const action = new SnsAction(this.topic);
    const alarm = (alarmId: string, props: AlarmSpec): Alarm => {
      const created = new Alarm(this, alarmId, {
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        ...props,
      });
      created.addAlarmAction(action);
      return created;
    };

    this.functions = lambdaFunctionsOf(stack);
    for (const fn of stack.node.findAll().filter((c): c is ProjectFunction => c instanceof ProjectFunction)) {
      fn.addEnvironment("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE);
    }
    this.queues = stack.node.findAll().filter((c): c is ResilientQueue => c instanceof ResilientQueue);

    for (const fn of this.functions) {
      const alarmId = constructIdOf(fn.label);
      alarm(`${alarmId}Errors`, {
        alarmDescription: `${fn.label}: an invocation failed (errors ≥ 1 in 5 minutes)`,
        metric: lambdaMetric(fn, "Errors", "Sum"),
        threshold: 1,
      });
      alarm(`${alarmId}Throttles`, {
        alarmDescription: `${fn.label}: an invocation was throttled (throttles ≥ 1 in 5 minutes)`,
        metric: lambdaMetric(fn, "Throttles", "Sum"),
        threshold: 1,
      });
    }

    for (const queue of this.queues) {
      const label = pathBelowStack(queue);
      const alarmId = constructIdOf(label);
      alarm(`${alarmId}DeadLetters`, {
        alarmDescription: `${label}: its dead-letter queue holds a message (the handler gave up on it)`,
        metric: queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: PERIOD,
          statistic: "Maximum",
        }),
        threshold: 1,
      });
      const ageSeconds = oldestMessageThresholdSeconds(queue);
      alarm(`${alarmId}OldestMessage`, {
        alarmDescription: `${label}: its oldest message is over ${ageSeconds} s old (receives × visibility timeout), so the queue is not draining`,
        metric: queue.queue.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: "Maximum" }),
        threshold: ageSeconds,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
    }

    const requests = props.api.metricCount({ period: PERIOD, label: "Requests" });
    const serverErrors = props.api.metricServerError({ period: PERIOD, label: "5xx" });
    const clientErrors = props.api.metricClientError({ period: PERIOD, label: "4xx" });
    const serverErrorRate = new MathExpression({
      expression: "IF(requests > 0, 100 * errors / requests, 0)",
      usingMetrics: { requests, errors: serverErrors },
      period: PERIOD,
      label: "5xx %",
    });
    alarm("Api5xxRate", {
      alarmDescription: `The API answered ${API_5XX_PERCENT_THRESHOLD}% or more of its requests with a 5xx in 5 minutes`,
      metric: serverErrorRate,
      threshold: API_5XX_PERCENT_THRESHOLD,
    });
    const latency = (statistic: string) =>
      props.api.metricLatency({ period: PERIOD, statistic, label: `Latency ${statistic}` });
    alarm("ApiP99Latency", {
      alarmDescription: `The API's p99 latency stayed over ${API_P99_LATENCY_THRESHOLD_MS} ms for 15 minutes`,
      metric: latency("p99"),
      threshold: API_P99_LATENCY_THRESHOLD_MS,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
    });

    this.dashboard = new Dashboard(this, "Dashboard", {
      dashboardName: stack.stackName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          "# Flywheel\nRun uploads → imports → review API → ingest, judge, exports. Every alarm here notifies the `AlarmTopicArn` topic.",
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph("API requests", [requests], [serverErrors, clientErrors]),
      graph("API 5xx rate (%)", [serverErrorRate]),
      graph("API latency (ms)", [latency("p50"), latency("p99")]),
    );
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `## What the flywheel did\nThe functions' own counts (namespace \`${METRICS_NAMESPACE}\`), by capability; a breakdown by reason, action or backend is one line per value.`,
        width: 24,
        height: 2,
      }),
      graph("Imports: candidates", [appMetric(IMPORT_METRICS.imported), appMetric(IMPORT_METRICS.skipped)]),
      graph("Imports: lines quarantined by reason", [breakdown(IMPORT_METRICS.quarantined)]),
      graph(
        "Ingest: corrections",
        [appMetric(INGEST_METRICS.ingested), appMetric(INGEST_METRICS.duplicates)],
        [appMetric(INGEST_METRICS.refused)],
      ),
      graph("Ingest: corrections refused by reason", [breakdown(INGEST_METRICS.refused)]),
      graph(
        "Review: decisions by action, and undos",
        [breakdown(REVIEW_METRICS.decisions)],
        [appMetric(REVIEW_METRICS.undos)],
      ),
      graph(
        "Exports: records written",
        [appMetric(EXPORT_METRICS.records)],
        [appMetric(EXPORT_METRICS.exports)],
      ),
      graph("Exports: records kept out by reason", [breakdown(EXPORT_METRICS.quarantined)]),
      graph(
        "Judge: calls by backend, and failures",
        [breakdown(EVAL_METRICS.calls), appMetric(EVAL_METRICS.sessionsJudged)],
        [appMetric(EVAL_METRICS.callFailures), appMetric(EVAL_METRICS.sessionsFailed)],
      ),
      graph("Judge: call latency (ms)", [
        appMetric(EVAL_METRICS.latency, "p50"),
        appMetric(EVAL_METRICS.latency, "p99"),
      ]),
    );
    for (const capability of capabilitiesOf(this.functions, this.queues)) {
      const fns = this.functions.filter((fn) => fn.capability === capability);
      const queues = this.queues.filter((queue) => capabilityOf(queue) === capability);
      const widgets: IWidget[] = [
        new TextWidget({
          markdown: `## ${CAPABILITY_TITLES[capability] ?? capability}`,
          width: 24,
          height: 1,
        }),
      ];
      for (const fn of fns) {
        widgets.push(
          graph(
            `${fn.label}: invocations and errors`,
            [lambdaMetric(fn, "Invocations", "Sum")],
            [lambdaMetric(fn, "Errors", "Sum"), lambdaMetric(fn, "Throttles", "Sum")],
          ),
          graph(`${fn.label}: duration (ms)`, [
            lambdaMetric(fn, "Duration", "p50"),
            lambdaMetric(fn, "Duration", "p99"),
            lambdaMetric(fn, "Duration", "Maximum"),
          ]),
        );
      }
      for (const queue of queues) {
        const label = pathBelowStack(queue);
        widgets.push(
          graph(
            `${label}: depth and dead letters`,
            [
              queue.queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, label: "Visible" }),
              queue.queue.metricApproximateNumberOfMessagesNotVisible({ period: PERIOD, label: "In flight" }),
            ],
            [
              queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
                period: PERIOD,
                statistic: "Maximum",
                label: "Dead letters",
              }),
            ],
          ),
          graph(`${label}: oldest message (s)`, [
            queue.queue.metricApproximateAgeOfOldestMessage({
              period: PERIOD,
              statistic: "Maximum",
              label: "Oldest message",
            }),
          ]),
        );
      }
      this.dashboard.addWidgets(...widgets);
    }
  }
}

type AlarmSpec = Omit<ConstructorParameters<typeof Alarm>[2], "evaluationPeriods"> & {
  readonly evaluationPeriods?: number;
};

/** What each capability's row of the dashboard is called; one unlisted is named by its construct id. */
const CAPABILITY_TITLES: Record<string, string> = {
  Uploads: "Imports (run uploads)",
  ReviewApi: "Review API",
  Ingest: "Ingest (corrections)",
  Eval: "Judge (eval)",
  Exports: "Exports",
  Reviewers: "Sign-in (pre-token generation)",
};

/** The row of the handlers CDK adds itself; they run only while a deployment changes the stack. */
export const DEPLOY_TIME_HANDLERS = "Deploy-time handlers (CDK)";

const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
  new GraphWidget({ title, left, right, width: 8, height: 6 });

/** The dimensions every metric of the functions carries (`lib/common/metrics.ts`). */
const appDimensions = (capability: MetricCapability) => ({ service: SERVICE_NAME, capability });

/** One of the functions' own metrics, its total over all values of its breakdown. */
function appMetric(metric: MetricSpec, statistic = metric.unit === "Count" ? "Sum" : "p50"): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: metric.name,
    dimensionsMap: appDimensions(metric.capability),
    statistic,
    period: PERIOD,
    label: statistic === "Sum" ? metric.name : `${metric.name} ${statistic}`,
  });
}

/** A metric's breakdown: one line per value of its dimension that has data (a search, so new values appear). */
function breakdown(metric: MetricSpec): MathExpression {
  const dimension = metric.dimension?.name;
  if (!dimension) throw new Error(`${metric.name} has no breakdown`);
  const schema = ["capability", dimension, "service"].sort().join(",");
  return new MathExpression({
    expression: `SEARCH('{${METRICS_NAMESPACE},${schema}} MetricName="${metric.name}" capability="${metric.capability}" service="${SERVICE_NAME}"', 'Sum', ${PERIOD.toSeconds()})`,
    usingMetrics: {},
    period: PERIOD,
    // A dynamic label: each line is named by its value of the dimension.
    label: `\${PROP('Dim.${dimension}')}`,
  });
}

function lambdaMetric(fn: MonitoredFunction, metricName: string, statistic: string): Metric {
  return new Metric({
    namespace: "AWS/Lambda",
    metricName,
    dimensionsMap: { FunctionName: fn.functionName },
    statistic,
    period: PERIOD,
    label: `${metricName}${statistic === "Sum" ? "" : ` ${statistic}`}`,
  });
}

/**
 * Every `AWS::Lambda::Function` in the stack, found by its CloudFormation type: functions of
 * the project, and the handlers CDK adds itself (bucket notifications, deployments), which
 * `lambda.Function` alone would miss.
 */
function lambdaFunctionsOf(stack: Stack): MonitoredFunction[] {
  return stack.node
    .findAll()
    .filter(
      (c): c is CfnResource => CfnResource.isCfnResource(c) && c.cfnResourceType === "AWS::Lambda::Function",
    )
    .map((resource) => {
      const label = pathBelowStack(resource).replace(/\/Resource$/, "");
      const top = label.split("/")[0] ?? label;
      const ours = stack.node
        .tryFindChild(top)
        ?.node.findAll()
        .some((c) => c instanceof ProjectFunction || c instanceof ResilientQueue);
      return { label, capability: ours ? top : DEPLOY_TIME_HANDLERS, functionName: resource.ref };
    });
}

function pathBelowStack(construct: IConstruct): string {
  const stackPath = Stack.of(construct).node.path;
  return construct.node.path.slice(stackPath.length + 1);
}

const capabilityOf = (construct: IConstruct): string => pathBelowStack(construct).split("/")[0] ?? "";

/** The capabilities in the order the stack creates them (the flywheel's own), CDK's handlers last. */
function capabilitiesOf(
  functions: readonly MonitoredFunction[],
  queues: readonly ResilientQueue[],
): string[] {
  const all = [...new Set([...functions.map((fn) => fn.capability), ...queues.map(capabilityOf)])];
  return [...all.filter((c) => c !== DEPLOY_TIME_HANDLERS), ...all.filter((c) => c === DEPLOY_TIME_HANDLERS)];
}

/** `ReviewApi/Handler` → `ReviewApiHandler`: an id for the alarms of one function or queue. */
const constructIdOf = (label: string): string => label.replace(/[^A-Za-z0-9]/g, "");
