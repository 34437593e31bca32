/**
 * Server-Sent Events read with `fetch`, not `EventSource`: EventSource cannot
 * send an `Authorization` header, and the controller's API requires a bearer
 * token. The parser follows the WHATWG event-stream rules the dashboard needs
 * (event, data over several lines, id, comments, CR/LF/CRLF line ends).
 */
export interface SseEvent {
  /** `message` when the server sent no `event:` field. */
  readonly event: string;
  readonly data: string;
  readonly id: string | null;
}

/** Incremental parser: feed it chunks as they arrive, get whole events back. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private lastId: string | null = null;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (match === null) break;
      // A lone CR at the end of a chunk may be the first half of CRLF: wait for more.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event !== null) out.push(event);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return null;
      }
      const event = { event: this.event || 'message', data: this.data.join('\n'), id: this.lastId };
      this.event = '';
      this.data = [];
      return event;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      default:
        break;
    }
    return null;
  }
}

export type LiveState = 'connecting' | 'live' | 'retrying' | 'unauthorized';

export interface Subscription {
  close(): void;
}

/**
 * Keeps one event stream open: reconnects with a back-off (1 s doubling to
 * 15 s) after the server closes it or the network drops, and stops on 401/403
 * (a token problem does not fix itself by retrying).
 */
export function subscribe(
  url: string,
  headers: () => Record<string, string>,
  onEvent: (event: SseEvent) => void,
  onState: (state: LiveState, detail: string) => void,
): Subscription {
  const abort = new AbortController();
  let delay = 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = async (): Promise<void> => {
    onState('connecting', url);
    try {
      const response = await fetch(url, {
        headers: { accept: 'text/event-stream', ...headers() },
        signal: abort.signal,
      });
      if (response.status === 401 || response.status === 403) {
        onState('unauthorized', `${response.status} ${response.statusText}`);
        return;
      }
      if (!response.ok || response.body === null)
        throw new Error(`${response.status} ${response.statusText}`);
      onState('live', url);
      delay = 1000;
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) onEvent(event);
      }
      throw new Error('the server closed the stream');
    } catch (error) {
      if (abort.signal.aborted) return;
      onState('retrying', error instanceof Error ? error.message : String(error));
      timer = setTimeout(() => void connect(), delay);
      delay = Math.min(delay * 2, 15_000);
    }
  };
  void connect();
  return {
    close: () => {
      abort.abort();
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
