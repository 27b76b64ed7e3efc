import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type AwsCall, principalOf } from "./recording-proxy.ts";

export interface FakeSecretsManager {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * The two Secrets Manager reads the functions make (`GetSecretValue`, `DescribeSecret`), served
 * from `secrets` (ARN → secret string) and recorded like the proxied services. A secret is found
 * by its ARN or its name, as Secrets Manager does.
 */
export async function startFakeSecretsManager(
  secrets: Record<string, string>,
  calls: AwsCall[],
): Promise<FakeSecretsManager> {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const operation =
      String(req.headers["x-amz-target"] ?? "")
        .split(".")
        .at(-1) ?? "";
    const input = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as { SecretId?: string };
    const arn = Object.keys(secrets).find(
      (candidate) => candidate === input.SecretId || nameOf(candidate) === input.SecretId,
    );
    calls.push({
      principal: principalOf(req),
      action: `secretsmanager:${operation}`,
      resource: arn ?? String(input.SecretId),
      context: {},
      request: `SecretsManager.${operation}`,
    });
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify(body));
    };
    if (!arn) {
      return reply(400, {
        __type: "ResourceNotFoundException",
        message: "Secrets Manager can't find the specified secret.",
      });
    }
    const described = { ARN: arn, Name: nameOf(arn), CreatedDate: 1_700_000_000 };
    if (operation === "GetSecretValue") {
      return reply(200, {
        ...described,
        SecretString: secrets[arn],
        VersionId: "v1",
        VersionStages: ["AWSCURRENT"],
      });
    }
    if (operation === "DescribeSecret") return reply(200, described);
    return reply(400, { __type: "InvalidRequestException", message: `unsupported operation ${operation}` });
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

/** `arn:…:secret:<name>-AbCdEf` → `<name>`. */
const nameOf = (arn: string) => (arn.split(":secret:")[1] ?? arn).replace(/-[A-Za-z0-9]{6}$/, "");
