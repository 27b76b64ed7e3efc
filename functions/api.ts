import { Router } from "@aws-lambda-powertools/event-handler/http";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";

const app = new Router();

app.get("/api/health", async () => ({ ok: true }));

export const handler = (event: APIGatewayProxyEventV2, context: Context) => app.resolve(event, context);
