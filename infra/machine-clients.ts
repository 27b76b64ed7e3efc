import { ALL_ROLES, type Role } from "../lib/common/http/access.ts";

/** `cdk deploy -c machineClients='[…]'`: the machines that call the API with client credentials. */
export const MACHINE_CLIENTS_CONTEXT = "machineClients";

/**
 * One machine: a product, an eval writer, a training harness. It gets an app client of its own,
 * allowed exactly the scopes of its roles, and a secret holding its id and secret.
 */
export interface MachineClient {
  /** Lower-case letters, digits and dashes; names the app client (`flywheel-<name>`) and its secret. */
  readonly name: string;
  readonly roles: readonly Role[];
  /** A `product` client's source: the only one its client-credentials token may ingest for. */
  readonly source?: string;
}

/**
 * The machine clients a context value declares (a JSON array, or the array itself); nothing when
 * absent. Every mistake is thrown at synth, naming the client.
 */
export function parseMachineClients(value: unknown): MachineClient[] {
  if (value === undefined || value === null || value === "") return [];
  const list = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  if (!Array.isArray(list)) throw new Error(`${MACHINE_CLIENTS_CONTEXT} must be a JSON array of clients`);
  const seen = new Set<string>();
  return list.map((entry, index) => {
    const { name, roles, source } = (entry ?? {}) as Record<string, unknown>;
    const where = `${MACHINE_CLIENTS_CONTEXT}[${index}]`;
    if (typeof name !== "string" || !/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/.test(name)) {
      throw new Error(`${where}: name must be 1-40 lower-case letters, digits or dashes`);
    }
    if (seen.has(name)) throw new Error(`${where}: the name ${name} is declared twice`);
    seen.add(name);
    if (!Array.isArray(roles) || roles.length === 0) {
      throw new Error(`${where} (${name}): roles must list at least one of ${ALL_ROLES.join(", ")}`);
    }
    for (const role of roles) {
      if (!(ALL_ROLES as unknown[]).includes(role)) {
        throw new Error(
          `${where} (${name}): unknown role ${JSON.stringify(role)}; roles are ${ALL_ROLES.join(", ")}`,
        );
      }
    }
    const product = roles.includes("product");
    if (product && (typeof source !== "string" || source.trim() === "")) {
      throw new Error(`${where} (${name}): a product client needs the source it ingests for`);
    }
    if (!product && source !== undefined) {
      throw new Error(`${where} (${name}): only a product client is bound to a source`);
    }
    return { name, roles: [...new Set(roles as Role[])], ...(product ? { source: source as string } : {}) };
  });
}
