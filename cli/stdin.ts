import { decodeRawText } from '../core/index.js';

/**
 * Reads all of standard input (`-f -`, `login --password-stdin`) as raw text:
 * UTF-8, with any byte that is not kept as core/raw-text.ts says, as a Dockerfile
 * read from a file is.
 */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return decodeRawText(Buffer.concat(chunks));
}

/** Reads all of standard input as bytes (a context tar for `tbuild build -`). */
export async function readStdinBytes(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
