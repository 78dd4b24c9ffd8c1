import type { BuildOptions } from '../../builder/index.js';

/**
 * BuildOptions as JSON for a job another node runs, and back. They are plain
 * data but for Maps (build args, labels), which JSON would drop; those travel
 * as `{"$map": [[key, value], …]}`.
 */
export function optionsToJson(options: BuildOptions): string {
  return JSON.stringify(options, (_key, value: unknown) =>
    value instanceof Map ? { $map: [...(value as Map<unknown, unknown>).entries()] } : value,
  );
}

export function optionsFromJson(text: string): BuildOptions {
  return JSON.parse(text, (_key, value: unknown) =>
    typeof value === 'object' && value !== null && '$map' in value
      ? new Map((value as { $map: [unknown, unknown][] }).$map)
      : value,
  ) as BuildOptions;
}
