import type { FastifyInstance } from 'fastify';
import { TbuildError } from '../../core/index.js';
import { familiarName, parseReference } from '../../registry-client/index.js';
import type { Query } from '../http/build-query.js';
import type { ServiceParts } from '../service.js';
import { dockerRoute } from './docker-route.js';
import { listNamedImages, manifestDigestOf, type NamedImage } from './local-images.js';

/** One entry of `GET /images/json` (Docker API 1.41 ImageSummary). */
interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

/**
 * `GET /images/json`: the local image store, one entry per image ID (config
 * digest) with all its names, as Docker lists them; `filters` `reference`,
 * `label` and `dangling` (no image of tbuild's store is dangling).
 */
export function registerImageList(app: FastifyInstance, parts: ServiceParts): void {
  dockerRoute(app, 'GET', '/images/json', 'read', async (request) => {
    const filters = parseFilters((request.query as Query)['filters']);
    const signal = AbortSignal.timeout(5 * 60_000);
    const byId = new Map<string, ImageSummary>();
    for (const named of await listNamedImages(parts.engine, signal)) {
      if (!matches(named, filters)) continue;
      const summary = byId.get(named.id) ?? summaryOf(named);
      const { tag, repository } = familiar(named.record.name);
      if (tag !== undefined) summary.RepoTags.push(`${repository}:${tag}`);
      const manifest = manifestDigestOf(named);
      const digest = `${repository}@${manifest ?? ''}`;
      if (manifest !== undefined && !summary.RepoDigests.includes(digest))
        summary.RepoDigests.push(digest);
      byId.set(named.id, summary);
    }
    return [...byId.values()].sort((a, b) => b.Created - a.Created);
  });
}

function summaryOf(named: NamedImage): ImageSummary {
  const created = Date.parse(named.image?.config.created ?? '');
  const size =
    (named.image?.layers.reduce((sum, layer) => sum + layer.size, 0) ?? 0) +
    (named.image?.configDescriptor.size ?? 0);
  const labels = named.image?.config.config.Labels;
  return {
    Id: named.id,
    ParentId: '',
    RepoTags: [],
    RepoDigests: [],
    Created: Number.isNaN(created) ? 0 : Math.floor(created / 1000),
    Size: size,
    SharedSize: -1,
    VirtualSize: size,
    Labels: labels === undefined ? null : { ...labels },
    Containers: -1,
  };
}

/** `docker.io/library/app:1` → `app` and `1`, as docker shows names. */
function familiar(name: string): { repository: string; tag: string | undefined } {
  const ref = parseReference(name);
  const repository = familiarName({ ...ref, tag: undefined, digest: undefined });
  return { repository, tag: ref.tag };
}

interface ImageFilters {
  readonly reference: readonly string[];
  readonly label: readonly string[];
  readonly dangling: boolean | undefined;
}

/** Docker's filters: JSON `{"reference":{"app":true}}` (or the old `{"reference":["app"]}`). */
function parseFilters(value: Query[string]): ImageFilters {
  const text = typeof value === 'string' ? value : value?.at(-1);
  const filters: Record<string, string[]> = {};
  if (text !== undefined && text !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new TbuildError('TB_SERVICE_REQUEST', `filters is not JSON: ${text}`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new TbuildError('TB_SERVICE_REQUEST', 'filters must be a JSON object');
    for (const [name, values] of Object.entries(parsed as Record<string, unknown>)) {
      if (!['reference', 'label', 'dangling'].includes(name))
        throw new TbuildError(
          'TB_UNSUPPORTED',
          `tbuild does not serve the images filter "${name}"`,
          {
            hint: 'filters served: reference, label, dangling',
          },
        );
      filters[name] = Array.isArray(values) ? values.map(String) : Object.keys(values ?? {});
    }
  }
  const dangling = filters['dangling']?.at(-1);
  return {
    reference: filters['reference'] ?? [],
    label: filters['label'] ?? [],
    dangling: dangling === undefined ? undefined : dangling === 'true' || dangling === '1',
  };
}

function matches(named: NamedImage, filters: ImageFilters): boolean {
  if (filters.dangling === true) return false;
  if (filters.reference.length > 0) {
    const { repository, tag } = familiar(named.record.name);
    const shown = tag === undefined ? repository : `${repository}:${tag}`;
    if (
      !filters.reference.some((pattern) =>
        glob(pattern, pattern.includes(':') ? shown : repository),
      )
    )
      return false;
  }
  const labels = named.image?.config.config.Labels ?? {};
  return filters.label.every((wanted) => {
    const equals = wanted.indexOf('=');
    return equals < 0
      ? wanted in labels
      : labels[wanted.slice(0, equals)] === wanted.slice(equals + 1);
  });
}

/** Go's path.Match as Docker uses it for references: `*` and `?` within a path segment. */
function glob(pattern: string, text: string): boolean {
  const source = pattern
    .split('')
    .map((char) =>
      char === '*' ? '[^/]*' : char === '?' ? '[^/]' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`).test(text);
}
