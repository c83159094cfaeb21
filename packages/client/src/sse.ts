/**
 * A server-sent events parser (the WHATWG "event stream interpretation"): `event`, `data`
 * (multi-line, joined with "\n"), `id` (kept across events until changed), `retry`, comments,
 * CR / LF / CRLF line ends, a leading BOM. Feed it decoded text in chunks of any size.
 */

export interface SseMessage {
  /** The event name; "message" when the server gave none. */
  event: string;
  data: string;
  /** The last event id seen so far on this stream ('' when none). */
  id: string;
}

export class SseParser {
  #buffer = '';
  #afterCr = false;
  #started = false;
  #event = '';
  #data: string[] = [];
  #hasData = false;
  #lastId = '';
  /** The last `retry:` value in milliseconds, if the server sent one. */
  retryMs: number | undefined;

  get lastEventId(): string {
    return this.#lastId;
  }

  feed(chunk: string): SseMessage[] {
    let text = chunk;
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#afterCr && text.startsWith('\n')) text = text.slice(1);
    this.#afterCr = false;
    this.#buffer += text;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.#buffer.slice(start, i);
      if (c === 13) {
        if (i + 1 < this.#buffer.length) {
          if (this.#buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          this.#afterCr = true;
        }
      }
      start = i + 1;
      const message = this.#line(line);
      if (message) out.push(message);
    }
    this.#buffer = this.#buffer.slice(start);
    return out;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#event = value;
        break;
      case 'data':
        this.#data.push(value);
        this.#hasData = true;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.#lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return undefined;
  }

  #dispatch(): SseMessage | undefined {
    const event = this.#event || 'message';
    const hasData = this.#hasData;
    const data = this.#data.join('\n');
    this.#event = '';
    this.#data = [];
    this.#hasData = false;
    if (!hasData) return undefined;
    return { event, data, id: this.#lastId };
  }
}
