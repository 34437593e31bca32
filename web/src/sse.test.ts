import { describe, expect, it } from 'vitest';
import { SseParser } from './sse.ts';

describe('SseParser', () => {
  it('assembles events across chunk boundaries, with ids and multi-line data', () => {
    const p = new SseParser();
    expect(p.push('id: 7\nevent: node\nda')).toEqual([]);
    expect(p.push('ta: {"a":1}\ndata: {"b":2}\n')).toEqual([]);
    expect(p.push('\n')).toEqual([{ event: 'node', data: '{"a":1}\n{"b":2}', id: '7' }]);
  });

  it('ignores comments, names unnamed events "message" and keeps the last id', () => {
    const p = new SseParser();
    expect(p.push(': keep-alive\n\ndata: x\n\nid: 9\nevent: tick\ndata: y\n\ndata: z\n\n')).toEqual(
      [
        { event: 'message', data: 'x', id: null },
        { event: 'tick', data: 'y', id: '9' },
        { event: 'message', data: 'z', id: '9' },
      ],
    );
  });

  it('accepts CRLF and CR line ends, even a CRLF split between chunks', () => {
    const p = new SseParser();
    expect(p.push('event: a\r')).toEqual([]);
    expect(p.push('\ndata: 1\r\n\r')).toEqual([]);
    expect(p.push('\ndata: 2\r\r')).toEqual([{ event: 'a', data: '1', id: null }]);
    expect(p.push('')).toEqual([]);
    expect(p.push('\n')).toEqual([{ event: 'message', data: '2', id: null }]);
  });

  it('a field without a colon or value is empty; an event with no data is dropped', () => {
    const p = new SseParser();
    expect(p.push('event: lonely\n\ndata\n\n')).toEqual([{ event: 'message', data: '', id: null }]);
  });
});
