import type { FastifyInstance } from 'fastify';
import { TbuildError } from '../../core/index.js';
import type { Query } from '../http/build-query.js';
import type { ServiceParts } from '../service.js';
import { dockerFlag } from './build-params.js';
import { dockerRoute } from './docker-route.js';
import { last } from './image-tag.js';

/**
 * `POST /build/prune` (`docker builder prune`): removes build cache no build
 * holds, with `all`, `keep-storage` (bytes) and the `until` filter (`24h`).
 * Answers Docker's `{"CachesDeleted": […], "SpaceReclaimed": bytes}`;
 * tbuild's prune reports counts, not the records' IDs, so the list is empty.
 */
export function registerBuildPrune(app: FastifyInstance, parts: ServiceParts): void {
  dockerRoute(app, 'POST', '/build/prune', 'admin', async (request) => {
    const query = request.query as Query;
    const keepText = last(query['keep-storage']) ?? '';
    if (keepText !== '' && !/^\d+$/.test(keepText))
      throw new TbuildError('TB_SERVICE_REQUEST', `keep-storage must be bytes, got "${keepText}"`);
    const keepStorage = keepText === '' || keepText === '0' ? undefined : Number(keepText);
    const until = untilFilter(last(query['filters']));
    const filtered = keepStorage !== undefined || until !== undefined;
    const report = await parts.engine.store.prune({
      signal: AbortSignal.timeout(30 * 60_000),
      // Without filters, `docker builder prune` removes all dangling cache, which is all of tbuild's.
      ...(filtered && !dockerFlag(last(query['all'])) ? {} : { all: true }),
      ...(keepStorage === undefined ? {} : { keepStorage }),
      ...(until === undefined ? {} : { until }),
    });
    return { CachesDeleted: [], SpaceReclaimed: report.reclaimedBytes };
  });
}

/** The `until` filter in milliseconds (`{"until":{"24h":true}}`); other filters are refused. */
function untilFilter(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TbuildError('TB_SERVICE_REQUEST', `filters is not JSON: ${text}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new TbuildError('TB_SERVICE_REQUEST', 'filters must be a JSON object');
  let until: number | undefined;
  for (const [name, values] of Object.entries(parsed as Record<string, unknown>)) {
    if (name !== 'until' && name !== 'unused-for')
      throw new TbuildError('TB_UNSUPPORTED', `tbuild does not serve the prune filter "${name}"`, {
        hint: 'filters served: until (e.g. 24h)',
      });
    const value = Array.isArray(values) ? String(values.at(-1)) : Object.keys(values ?? {}).at(-1);
    if (value !== undefined) until = goDuration(value, name);
  }
  return until;
}

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** A Go duration as docker sends it (`24h`, `1h30m`, `90s`) in milliseconds. */
export function goDuration(text: string, what: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text)
    throw new TbuildError('TB_SERVICE_REQUEST', `filter ${what}="${text}" is not a duration`, {
      hint: 'e.g. 24h, 90m, 1h30m',
    });
  return parts.reduce((sum, part) => sum + Number(part[1]) * (UNIT_MS[part[2] ?? 's'] ?? 0), 0);
}
