import type { CfnTemplate } from "./synth.ts";

/** What the references of a template stand for here: the local resources a test provisioned. */
export interface LocalResourceMap {
  /** `Ref` of a resource or a pseudo parameter (`AWS::Region`). */
  readonly refs: Record<string, string>;
  /** `Fn::GetAtt` of a resource: logical id → attribute → value. */
  readonly attributes: Record<string, Record<string, string>>;
}

export class UnresolvedReference extends Error {}

/** The account and region every local emulator reports. */
export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_REGION = "us-east-1";

export const PSEUDO_PARAMETERS: Record<string, string> = {
  "AWS::Partition": "aws",
  "AWS::Region": LOCAL_REGION,
  "AWS::AccountId": LOCAL_ACCOUNT,
  "AWS::URLSuffix": "amazonaws.com",
  "AWS::StackName": "Flywheel",
};

/**
 * Resolves CloudFormation's intrinsic functions (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`,
 * `Fn::Select`, `Fn::Split`) to strings, as CloudFormation would at deploy time with `map`
 * standing for the deployed resources. Anything the map does not know throws, naming it.
 */
export function resolveValue(value: unknown, map: LocalResourceMap): string {
  const resolved = resolveAny(value, map);
  if (typeof resolved !== "string") throw new UnresolvedReference(`not a string: ${JSON.stringify(value)}`);
  return resolved;
}

function resolveAny(value: unknown, map: LocalResourceMap): unknown {
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  if (Array.isArray(value)) return value.map((item) => resolveAny(item, map));
  if (value === null || typeof value !== "object") throw new UnresolvedReference(`cannot resolve ${value}`);
  const entries = Object.entries(value);
  const [fn, args] = entries[0] ?? [];
  if (entries.length !== 1 || fn === undefined) return value;
  switch (fn) {
    case "Ref": {
      const name = String(args);
      const ref = PSEUDO_PARAMETERS[name] ?? map.refs[name];
      if (ref === undefined) throw new UnresolvedReference(`no local resource for Ref ${name}`);
      return ref;
    }
    case "Fn::GetAtt": {
      const [id, attribute] = (typeof args === "string" ? args.split(".") : args) as [string, string];
      const resolved = map.attributes[id]?.[attribute];
      if (resolved === undefined) throw new UnresolvedReference(`no local resource for ${id}.${attribute}`);
      return resolved;
    }
    case "Fn::Join": {
      const [delimiter, items] = args as [string, unknown[]];
      return (resolveAny(items, map) as string[]).join(delimiter);
    }
    case "Fn::Select": {
      const [index, list] = args as [unknown, unknown];
      return (resolveAny(list, map) as string[])[Number(resolveAny(index, map))];
    }
    case "Fn::Split": {
      const [delimiter, source] = args as [string, unknown];
      return String(resolveAny(source, map)).split(delimiter);
    }
    case "Fn::Sub": {
      const [text, variables] = (typeof args === "string" ? [args, {}] : args) as [
        string,
        Record<string, unknown>,
      ];
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        if (variables[name] !== undefined) return String(resolveAny(variables[name], map));
        if (name.includes(".")) return resolveValue({ "Fn::GetAtt": name.split(".") }, map);
        return resolveValue({ Ref: name }, map);
      });
    }
    default:
      throw new UnresolvedReference(`unsupported intrinsic ${fn}`);
  }
}

export interface ProvisionedNames {
  readonly tableName: string;
  readonly bucket: string;
  /** Queue name as the template names it, without the stack prefix (`run-uploads`) → local queue. */
  readonly queues: Record<string, { readonly url: string; readonly arn: string }>;
  /** Logical id of each secret the template creates → the ARN the local secret store serves it under. */
  readonly secrets: Record<string, string>;
}

/**
 * Maps the template's stateful resources to the local ones: its one table, the bucket the
 * functions are given (`BUCKET_NAME`), every queue by its name and every secret. Other resources
 * (the web site's bucket, the log bucket) get names of their own, which no function may reach.
 */
export function localResourceMap(template: CfnTemplate, names: ProvisionedNames): LocalResourceMap {
  const refs: Record<string, string> = {};
  const attributes: Record<string, Record<string, string>> = {};
  const dataBuckets = new Set<string>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== "AWS::Lambda::Function") continue;
    const variables = (resource.Properties?.Environment as { Variables?: Record<string, unknown> })
      ?.Variables;
    const ref = (variables?.BUCKET_NAME as { Ref?: string } | undefined)?.Ref;
    if (ref) dataBuckets.add(ref);
  }
  if (dataBuckets.size !== 1)
    throw new Error(`expected one bucket given to the functions, found ${[...dataBuckets]}`);
  const tables = Object.entries(template.Resources).filter(([, r]) => r.Type === "AWS::DynamoDB::Table");
  if (tables.length !== 1) throw new Error(`expected one table, found ${tables.length}`);

  for (const [id, resource] of Object.entries(template.Resources)) {
    const p = resource.Properties ?? {};
    switch (resource.Type) {
      case "AWS::DynamoDB::Table": {
        refs[id] = names.tableName;
        attributes[id] = {
          Arn: `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${names.tableName}`,
        };
        break;
      }
      case "AWS::S3::Bucket": {
        const name = dataBuckets.has(id) ? names.bucket : `not-provisioned-${id.toLowerCase()}`;
        refs[id] = name;
        attributes[id] = { Arn: `arn:aws:s3:::${name}`, RegionalDomainName: `${name}.s3.amazonaws.com` };
        break;
      }
      case "AWS::SQS::Queue": {
        const queueName = String(p.QueueName ?? "");
        const local = names.queues[queueName.replace(/^[^-]+-/, "")];
        if (!local) throw new Error(`no local queue for ${id} (${queueName})`);
        refs[id] = local.url;
        attributes[id] = {
          Arn: local.arn,
          QueueName: local.arn.split(":").at(-1) as string,
          QueueUrl: local.url,
        };
        break;
      }
      case "AWS::SecretsManager::Secret": {
        const arn = names.secrets[id];
        if (!arn) throw new Error(`no local secret for ${id}`);
        refs[id] = arn;
        attributes[id] = { Id: arn };
        break;
      }
      case "AWS::IAM::Role":
        refs[id] = id;
        attributes[id] = { Arn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${id}` };
        break;
      default:
        break;
    }
  }
  return { refs, attributes };
}
