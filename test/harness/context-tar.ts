import { pack } from 'tar-stream';

/** A context as the service takes it: a tar of `files` (name → text), in memory. */
export async function tarOfFiles(files: Readonly<Record<string, string>>): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve) => {
    archive.on('end', () => {
      resolve();
    });
  });
  for (const [name, content] of Object.entries(files))
    archive.entry({ name, mode: 0o644 }, content);
  archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}
