import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { ApiKeySource } from "./openai-judge.ts";

/** A key fixed at start-up (locally, from the environment); `undefined` sends no key. */
export function staticApiKey(key: string | undefined): ApiKeySource {
  return async () => key;
}

/** The secret's value: the key itself, or JSON whose `api_key` field is the key. */
export function keyFromSecret(value: string): string {
  const text = value.trim();
  if (!text.startsWith("{")) return text;
  try {
    const parsed = JSON.parse(text) as { api_key?: unknown };
    if (typeof parsed.api_key === "string" && parsed.api_key !== "") return parsed.api_key;
  } catch {
    // not JSON after all: the text is the key
    return text;
  }
  throw new Error("the judge API key secret is JSON without an 'api_key' string");
}

/**
 * A key in Secrets Manager, read through Powertools' cache: one read per `maxAgeSeconds` per
 * warm function, so a rotated key is picked up without a deploy.
 */
export function secretApiKey(
  client: SecretsManagerClient,
  secretArn: string,
  maxAgeSeconds = 300,
): ApiKeySource {
  const provider = new SecretsProvider({ awsSdkV3Client: client });
  return async () => {
    const value = await provider.get(secretArn, { maxAge: maxAgeSeconds });
    if (value === undefined) return undefined;
    return keyFromSecret(typeof value === "string" ? value : Buffer.from(value).toString("utf8"));
  };
}
