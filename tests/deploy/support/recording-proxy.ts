import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./resolve.ts";

/** One AWS call as IAM authorises it: who made it, the action and the resource. */
export interface AwsCall {
  /** The access key the request was signed with (each function gets its own). */
  readonly principal: string;
  /** `service:Action`, as IAM names it. */
  readonly action: string;
  readonly resource: string;
  /** The condition keys IAM evaluates for it (such as `s3:prefix`). */
  readonly context: Record<string, string>;
  /** What was called, for messages: `DynamoDB.TransactWriteItems`, `GET /bucket/key`. */
  readonly request: string;
}

export type ProxiedService = "dynamodb" | "s3" | "sqs";

export interface RecordingProxy {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of an emulator that records every request as the IAM actions and
 * resources AWS would authorise it against, then forwards it unchanged. The caller is the access
 * key of the request's signature (`Authorization` header, or `X-Amz-Credential` of a presigned URL).
 */
export async function startRecordingProxy(
  service: ProxiedService,
  upstream: string,
  calls: AwsCall[],
): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    try {
      const principal = principalOf(req);
      for (const call of callsOf(service, req, body)) calls.push({ principal, ...call });
    } catch (error) {
      calls.push({
        principal: principalOf(req),
        action: `${service}:Unrecognised`,
        resource: "*",
        context: {},
        request: `${req.method} ${req.url}: ${String(error)}`,
      });
    }
    const forwarded = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    forwarded.on("error", (error) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(error));
    });
    forwarded.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The access key id of a SigV4-signed request, header or query string. */
export function principalOf(req: Pick<IncomingMessage, "headers" | "url">): string {
  const header = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ""));
  if (header?.[1]) return header[1];
  const query = new URL(req.url ?? "/", "http://x").searchParams.get("X-Amz-Credential");
  return query?.split("/")[0] ?? "anonymous";
}

type Call = Omit<AwsCall, "principal">;

function callsOf(service: ProxiedService, req: IncomingMessage, body: Buffer): Call[] {
  switch (service) {
    case "dynamodb":
      return dynamoDbCalls(
        String(req.headers["x-amz-target"] ?? ""),
        JSON.parse(body.toString("utf8") || "{}"),
      );
    case "sqs":
      return sqsCalls(req, body);
    case "s3":
      return s3Calls(req, body.toString("utf8"));
  }
}

const tableArn = (table: string) => `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${table}`;

// biome-ignore lint/suspicious/noExplicitAny: DynamoDB's JSON protocol, read field by field
export function dynamoDbCalls(target: string, input: any): Call[] {
  const operation = target.split(".").at(-1) ?? "";
  const request = `DynamoDB.${operation}`;
  const call = (action: string, table: string, index?: string): Call => ({
    action: `dynamodb:${action}`,
    resource: index ? `${tableArn(table)}/index/${index}` : tableArn(table),
    context: {},
    request,
  });
  switch (operation) {
    case "BatchGetItem":
    case "BatchWriteItem":
      return Object.keys(input.RequestItems ?? {}).map((table) => call(operation, table));
    case "TransactWriteItems":
      return (input.TransactItems ?? []).flatMap((item: Record<string, { TableName: string }>) =>
        Object.entries(item).map(([kind, op]) => {
          const action = {
            Put: "PutItem",
            Update: "UpdateItem",
            Delete: "DeleteItem",
            ConditionCheck: "ConditionCheckItem",
          }[kind];
          if (!action) throw new Error(`unknown transaction item ${kind}`);
          return call(action, op.TableName);
        }),
      );
    case "TransactGetItems":
      return (input.TransactItems ?? []).map((item: { Get: { TableName: string } }) =>
        call("GetItem", item.Get.TableName),
      );
    default:
      if (!input.TableName) throw new Error(`${operation} without a TableName`);
      return [call(operation, input.TableName, input.IndexName)];
  }
}

const queueArnOf = (queueUrl: string) =>
  `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${new URL(queueUrl).pathname.split("/").at(-1)}`;

function sqsCalls(req: IncomingMessage, body: Buffer): Call[] {
  const target = String(req.headers["x-amz-target"] ?? "");
  let operation: string;
  let queueUrl: string | undefined;
  if (target) {
    operation = target.split(".").at(-1) ?? "";
    queueUrl = JSON.parse(body.toString("utf8") || "{}").QueueUrl;
  } else {
    const form = new URLSearchParams(body.toString("utf8"));
    operation = form.get("Action") ?? "";
    queueUrl = form.get("QueueUrl") ?? undefined;
  }
  // The batch actions are authorised as their single counterparts.
  const action = operation.replace(/Batch$/, "");
  return [
    {
      action: `sqs:${action}`,
      resource: queueUrl ? queueArnOf(queueUrl) : "*",
      context: {},
      request: `SQS.${operation}`,
    },
  ];
}

/** S3's REST API (path-style, as the functions use it locally) → IAM actions. */
export function s3Calls(req: Pick<IncomingMessage, "method" | "url" | "headers">, body = ""): Call[] {
  const url = new URL(req.url ?? "/", "http://x");
  const [bucket = "", ...rest] = url.pathname.slice(1).split("/");
  const key = rest.map(decodeURIComponent).join("/");
  const q = url.searchParams;
  const method = req.method ?? "GET";
  const request = `${method} /${bucket}/${key}${url.search ? `?${[...q.keys()].filter((k) => !k.startsWith("X-Amz-")).join("&")}` : ""}`;
  const onObject = (action: string, objectKey = key): Call => ({
    action: `s3:${action}`,
    resource: `arn:aws:s3:::${bucket}/${objectKey}`,
    context: {},
    request,
  });
  if (!key) {
    if ((method === "GET" && !q.has("location") && !q.has("versioning")) || method === "HEAD") {
      return [
        {
          action: "s3:ListBucket",
          resource: `arn:aws:s3:::${bucket}`,
          context: q.has("prefix") ? { "s3:prefix": q.get("prefix") ?? "" } : {},
          request,
        },
      ];
    }
    // DeleteObjects is authorised as s3:DeleteObject on each key it names.
    if (method === "POST" && q.has("delete")) {
      return [...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((match) =>
        onObject("DeleteObject", unescapeXml(match[1] ?? "")),
      );
    }
    throw new Error(`unmapped bucket request ${method} ${url.search}`);
  }
  switch (method) {
    case "GET":
    case "HEAD":
      if ([...q.keys()].some((k) => ["tagging", "acl", "uploadId", "attributes"].includes(k))) {
        throw new Error(`unmapped object read ${url.search}`);
      }
      return [onObject("GetObject")];
    case "PUT": {
      const copySource = req.headers["x-amz-copy-source"];
      const calls = [onObject("PutObject")];
      if (typeof copySource === "string") {
        const source = decodeURIComponent(copySource.replace(/^\//, ""));
        calls.push({ action: "s3:GetObject", resource: `arn:aws:s3:::${source}`, context: {}, request });
      }
      if (q.has("tagging") || q.has("acl")) throw new Error(`unmapped object write ${url.search}`);
      return calls;
    }
    case "POST":
      // CreateMultipartUpload (?uploads) and CompleteMultipartUpload (?uploadId) are s3:PutObject.
      if (q.has("uploads") || q.has("uploadId")) return [onObject("PutObject")];
      throw new Error(`unmapped object POST ${url.search}`);
    case "DELETE":
      return [onObject(q.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject")];
    default:
      throw new Error(`unmapped method ${method}`);
  }
}

const unescapeXml = (text: string) =>
  text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&amp;/g, "&");
