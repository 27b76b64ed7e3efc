/**
 * The review benchmark's gateway process: the local runtime's HTTP API (`local/http-api.ts`) in
 * front of `functions/api.ts`, on 127.0.0.1, in a process of its own as under `npm start`, with
 * the environment its parent gives it. It sends its URL once listening, answers `cpu` with the
 * CPU time it has used so far (µs), and stops when its parent disconnects.
 */
import { startHttpApi } from "../local/http-api.ts";

export interface GatewayMessage {
  readonly url?: string;
  readonly cpuMicros?: number;
}

const { handler } = await import("../functions/api.ts");
const api = await startHttpApi({
  port: 0,
  handler,
  region: process.env.AWS_REGION ?? "us-east-1",
  functionName: "api",
});
const send = (message: GatewayMessage) => process.send?.(message);
process.on("message", (message) => {
  if (message !== "cpu") return;
  const { user, system } = process.cpuUsage();
  send({ cpuMicros: user + system });
});
process.once("disconnect", () => {
  api.stop().then(() => process.exit(0));
});
send({ url: api.url });
