/**
 * The messages of proto/tbuild/v1/builder.proto as proto-loader gives them
 * (keepCase, defaults, oneofs: `kind` names the field that is set).
 */

export interface Start {
  readonly options: Readonly<Record<string, { readonly values: readonly string[] }>>;
  readonly dockerfile: Buffer;
  readonly dockerfile_name: string;
  readonly dockerignore: readonly string[];
  readonly context_key: string;
  readonly listing_gz: Buffer;
}

export interface FileChunk {
  readonly entry: number;
  readonly data: Buffer;
  readonly last: boolean;
}

export interface SecretRequest {
  readonly request: number;
  readonly id: string;
}

export interface SecretReply {
  readonly request: number;
  readonly data: Buffer;
  readonly error: string;
}

export interface SshData {
  readonly connection: number;
  readonly id: string;
  readonly data: Buffer;
  readonly open: boolean;
  readonly close: boolean;
}

export interface OutputChunk {
  readonly index: number;
  /** `tar` (a tree to unpack), `file` (written as it is) or `docker` (loaded into Docker). */
  readonly kind: OutputKind;
  readonly data: Buffer;
  readonly last: boolean;
}

export type OutputKind = 'tar' | 'file' | 'docker';

export interface Accepted {
  readonly build_id: string;
  readonly files_received: number;
  readonly bytes_received: number;
}

export interface Progress {
  readonly event: string;
  readonly log: Buffer;
}

export interface Result {
  readonly manifest_digest: string;
  readonly config_digest: string;
  readonly manifest_descriptor: string;
  readonly names: readonly string[];
}

export type ClientMessage =
  | { readonly kind?: 'start'; readonly start: Start }
  | { readonly kind?: 'file'; readonly file: FileChunk }
  | { readonly kind?: 'secret'; readonly secret: SecretReply }
  | { readonly kind?: 'ssh'; readonly ssh: SshData };

export type ServerMessage =
  | { readonly kind?: 'sync'; readonly sync: { readonly entries: readonly number[] } }
  | { readonly kind?: 'accepted'; readonly accepted: Accepted }
  | { readonly kind?: 'progress'; readonly progress: Progress }
  | { readonly kind?: 'secret'; readonly secret: SecretRequest }
  | { readonly kind?: 'ssh'; readonly ssh: SshData }
  | { readonly kind?: 'output'; readonly output: OutputChunk }
  | { readonly kind?: 'result'; readonly result: Result }
  | { readonly kind?: 'error'; readonly error: { readonly error: string } };

/** How big a chunk of a file or an output is on the wire. */
export const CHUNK_BYTES = 256 * 1024;
