/**
 * Types of the part of the `ws` npm client the gateway uses. Declared here rather than taken from
 * `@types/ws`: that package (and the `@types/node` it brings) would join the runtime's packages.
 */
export default class WsWebSocket {
  static readonly OPEN: 1;
  constructor(
    url: string | URL,
    options?: { headers?: Record<string, string>; perMessageDeflate?: boolean },
  );
  readonly readyState: number;
  on(event: "open", listener: () => void): this;
  on(
    event: "message",
    listener: (data: { toString(): string }, isBinary: boolean) => void,
  ): this;
  on(
    event: "unexpected-response",
    listener: (request: unknown, response: { statusCode?: number; resume(): void }) => void,
  ): this;
  on(event: "error", listener: (error: Error & { code?: string }) => void): this;
  on(event: "close", listener: (code: number, reason: { toString(): string }) => void): this;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}
