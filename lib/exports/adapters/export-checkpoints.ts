import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { keys } from "../../common/adapters/table-keys.ts";
import { TABLE } from "../../common/resources.ts";
import type { ExportCheckpointPointer, ExportCheckpointStore } from "../ports.ts";

/**
 * An export's checkpoint on its job item (`checkpoint`): moved on only by a conditional write
 * from the sequence the writer resumed, while the job runs — so of two invocations going on from
 * the same checkpoint, one saves the next and the other changes nothing.
 */
export class ExportCheckpointTable implements ExportCheckpointStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async read(exportId: string): Promise<ExportCheckpointPointer | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.exportJob(exportId),
        ConsistentRead: true,
        ProjectionExpression: "#checkpoint",
        ExpressionAttributeNames: { "#checkpoint": "checkpoint" },
      }),
    );
    return (Item?.checkpoint as ExportCheckpointPointer | undefined) ?? null;
  }

  async save(exportId: string, next: ExportCheckpointPointer, previousSeq: number): Promise<boolean> {
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.exportJob(exportId),
          UpdateExpression: "SET #checkpoint = :next",
          ConditionExpression: `attribute_exists(#pk) AND #status = :running AND ${
            previousSeq === 0 ? "attribute_not_exists(#checkpoint)" : "#checkpoint.#seq = :previous"
          }`,
          ExpressionAttributeNames: {
            "#pk": TABLE.partitionKey,
            "#status": "status",
            "#checkpoint": "checkpoint",
            ...(previousSeq === 0 ? {} : { "#seq": "seq" }),
          },
          ExpressionAttributeValues: {
            ":next": next,
            ":running": "running",
            ...(previousSeq === 0 ? {} : { ":previous": previousSeq }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async markHandedOn(exportId: string, seq: number): Promise<void> {
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.exportJob(exportId),
          UpdateExpression: "SET #checkpoint.#handed = :yes",
          ConditionExpression: "#checkpoint.#seq = :seq",
          ExpressionAttributeNames: { "#checkpoint": "checkpoint", "#handed": "handed_on", "#seq": "seq" },
          ExpressionAttributeValues: { ":yes": true, ":seq": seq },
        }),
      );
    } catch (error) {
      // Moved on since: the continuation was taken up already.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
