import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { queryAll } from "../../common/adapters/partition-reads.ts";
import {
  DATASET_VERSION_PREFIX,
  DATASETS_PARTITION,
  datasetIndexKeys,
  keys,
} from "../../common/adapters/table-keys.ts";
import { ConflictError } from "../../common/domain/errors.ts";
import { TABLE } from "../../common/resources.ts";
import type { DatasetSummary, DatasetVersion, VersionFiles } from "../domain/dataset-version.ts";
import type { DatasetStore } from "../ports.ts";

type Item = Record<string, unknown>;

/** Files and manifest as JSON text: a DynamoDB map keeps no key order, and a manifest is read as written. */
function versionFromItem(item: Item): DatasetVersion {
  return {
    name: String(item.name),
    version: Number(item.version),
    export_id: String(item.export_id),
    format: String(item.format),
    state: item.state === "ready" ? "ready" : "copying",
    pinned_by: String(item.pinned_by),
    pinned_at: String(item.pinned_at),
    ready_at: typeof item.ready_at === "string" ? item.ready_at : null,
    ...(typeof item.copied_through === "string" ? { copied_through: item.copied_through } : {}),
    prefix: String(item.prefix),
    files: JSON.parse(String(item.files)),
    manifest: JSON.parse(String(item.manifest)),
  };
}

function summaryFromItem(item: Item): DatasetSummary {
  return {
    name: String(item.name),
    last_version: Number(item.last_version ?? 0),
    created_at: String(item.created_at),
    updated_at: String(item.updated_at),
  };
}

/**
 * Datasets in the single table, all under `DATASET#<name>`: the dataset (`DATASET`, holding the
 * last version number handed out, listed by name in the `DATASETS` partition of the eval-session
 * index), each version (`VERSION#<n>`) and each pin (`PIN#<export id>` → its version). Version
 * numbers come from an atomic counter, so none is handed out twice; a version and its pin are
 * written together and only if absent; a version moves once, `copying` → `ready`, and never again.
 */
export class DatasetTable implements DatasetStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async pinnedVersion(name: string, exportId: string): Promise<number | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.datasetPin(name, exportId),
        ConsistentRead: true,
      }),
    );
    return Item ? Number(Item.version) : null;
  }

  async nextVersion(name: string, at: string): Promise<number> {
    const { evalSessions } = TABLE.indexes;
    const index = datasetIndexKeys(name);
    const { Attributes } = await this.dynamodb.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.dataset(name),
        UpdateExpression:
          "ADD #last :one SET #name = :name, #created = if_not_exists(#created, :at), #updated = :at, #type = :type, #gpk = :gpk, #gsk = :gsk",
        ExpressionAttributeNames: {
          "#last": "last_version",
          "#name": "name",
          "#created": "created_at",
          "#updated": "updated_at",
          "#type": "type",
          "#gpk": evalSessions.partitionKey,
          "#gsk": evalSessions.sortKey,
        },
        ExpressionAttributeValues: {
          ":one": 1,
          ":name": name,
          ":at": at,
          ":type": "dataset",
          ":gpk": index[evalSessions.partitionKey],
          ":gsk": index[evalSessions.sortKey],
        },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(Attributes?.last_version);
  }

  async create(version: DatasetVersion): Promise<{ created: boolean; version: number }> {
    try {
      await this.dynamodb.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...keys.datasetPin(version.name, version.export_id),
                  type: "dataset_pin",
                  version: version.version,
                },
                ConditionExpression: "attribute_not_exists(#pk)",
                ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...keys.datasetVersion(version.name, version.version),
                  type: "dataset_version",
                  ...version,
                  files: JSON.stringify(version.files),
                  manifest: JSON.stringify(version.manifest),
                },
                ConditionExpression: "attribute_not_exists(#pk)",
                ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
              },
            },
          ],
        }),
      );
      return { created: true, version: version.version };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const pinned = await this.pinnedVersion(version.name, version.export_id);
      if (pinned !== null) return { created: false, version: pinned };
      throw new ConflictError(`Version ${version.version} of dataset ${version.name} exists already`);
    }
  }

  async get(name: string, version: number): Promise<DatasetVersion | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.datasetVersion(name, version),
        ConsistentRead: true,
      }),
    );
    return Item ? versionFromItem(Item) : null;
  }

  async versions(name: string): Promise<DatasetVersion[]> {
    const items = await queryAll(this.dynamodb, {
      TableName: this.tableName,
      KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
      ExpressionAttributeNames: { "#pk": TABLE.partitionKey, "#sk": TABLE.sortKey },
      ExpressionAttributeValues: {
        ":pk": keys.dataset(name)[TABLE.partitionKey],
        ":prefix": DATASET_VERSION_PREFIX,
      },
      ConsistentRead: true,
    });
    return items.map(versionFromItem);
  }

  async dataset(name: string): Promise<DatasetSummary | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: keys.dataset(name), ConsistentRead: true }),
    );
    return Item ? summaryFromItem(Item) : null;
  }

  async list(limit: number, after?: string): Promise<DatasetSummary[]> {
    const { evalSessions } = TABLE.indexes;
    const page = await this.dynamodb.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: evalSessions.name,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": evalSessions.partitionKey },
        ExpressionAttributeValues: { ":pk": DATASETS_PARTITION },
        Limit: limit,
        // The index holds nothing but datasets in this partition, so each item read is one listed.
        ...(after !== undefined
          ? { ExclusiveStartKey: { ...keys.dataset(after), ...datasetIndexKeys(after) } }
          : {}),
      }),
    );
    return (page.Items ?? []).map(summaryFromItem);
  }

  async saveProgress(name: string, version: number, copiedThrough: string): Promise<void> {
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.datasetVersion(name, version),
          UpdateExpression: "SET #through = :through",
          ConditionExpression: "attribute_exists(#pk) AND #state = :copying",
          ExpressionAttributeNames: {
            "#pk": TABLE.partitionKey,
            "#state": "state",
            "#through": "copied_through",
          },
          ExpressionAttributeValues: { ":copying": "copying", ":through": copiedThrough },
        }),
      );
    } catch (error) {
      // Ready meanwhile (another pin of the export finished it): nothing left to remember.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async markReady(name: string, version: number, files: VersionFiles, at: string): Promise<void> {
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.datasetVersion(name, version),
          UpdateExpression: "SET #state = :ready, #readyAt = :at, #files = :files",
          ConditionExpression: "attribute_exists(#pk) AND #state = :copying",
          ExpressionAttributeNames: {
            "#pk": TABLE.partitionKey,
            "#state": "state",
            "#readyAt": "ready_at",
            "#files": "files",
          },
          ExpressionAttributeValues: {
            ":ready": "ready",
            ":copying": "copying",
            ":at": at,
            ":files": JSON.stringify(files),
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Two pins of one export finishing together: the first made it ready, and it stays as it is.
      const stored = await this.get(name, version);
      if (stored?.state !== "ready")
        throw new ConflictError(`Version ${version} of ${name} cannot be changed`);
    }
  }
}
