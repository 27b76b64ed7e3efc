import type { MessageSpyReader, S3SpyEvent, SpyMessage } from "fauxqs";

interface RecordingSpy {
  addMessage(message: SpyMessage): void;
}

/**
 * Calls `listener` for every S3 event fauxqs records (its only notification mechanism). The
 * listener runs synchronously inside the emulator's request, so it must only schedule work.
 * Returns a function that removes the hook.
 */
export function onS3SpyEvent(
  server: { readonly spy: MessageSpyReader },
  listener: (event: S3SpyEvent) => void,
): () => void {
  // `server.spy` is typed as a read-only view, but it is the MessageSpy the stores write to.
  const spy = server.spy as unknown as RecordingSpy;
  const original = spy.addMessage;
  spy.addMessage = function addMessage(this: RecordingSpy, message: SpyMessage) {
    original.call(this, message);
    if (message.service === "s3") listener(message);
  };
  return () => {
    spy.addMessage = original;
  };
}
