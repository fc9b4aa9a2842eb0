/**
 * A bounded server-sent-events reader for provider streams: bytes in, the `data` of each event out.
 * Comments and other fields are skipped. An event larger than MAX_EVENT_BYTES is an error (a provider
 * that never ends an event cannot make us buffer without bound).
 */
export const MAX_EVENT_BYTES = 1024 * 1024;

export class SseTooLargeError extends Error {
  override name = 'SseTooLargeError';
}

export async function* sseData(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of chunks) {
    buf += decoder.decode(chunk, { stream: true });
    for (;;) {
      const m = /\r\n\r\n|\n\n|\r\r/.exec(buf);
      if (!m) break;
      const block = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      const data = dataOf(block);
      if (data !== null) yield data;
    }
    if (buf.length > MAX_EVENT_BYTES) throw new SseTooLargeError(`a provider event exceeded ${MAX_EVENT_BYTES} bytes`);
  }
  buf += decoder.decode();
  // A last event without its blank line still counts (some servers end the body right after it).
  const data = buf.trim() === '' ? null : dataOf(buf);
  if (data !== null) yield data;
}

function dataOf(block: string): string | null {
  const lines: string[] = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line.startsWith('data:')) lines.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }
  return lines.length ? lines.join('\n') : null;
}
