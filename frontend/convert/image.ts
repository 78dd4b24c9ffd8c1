import type { ContainerConfig, HistoryEntry, ImageConfig } from '../../core/index.js';
import type { Platform } from '../../solver/ir/index.js';

type MutableArray<V> = V extends readonly (infer U)[] ? U[] : V;
type Mutable<T> = { -readonly [K in keyof T]: MutableArray<T[K]> };

/** The image config a stage builds up while it is dispatched. */
export interface WorkingImage {
  architecture: string;
  os: string;
  variant?: string;
  author?: string;
  config: WorkingContainerConfig;
  history: HistoryEntry[];
}

export type WorkingContainerConfig = Mutable<ContainerConfig>;

/** The lowered image config: everything but rootfs, which the exporter writes from the layers it makes. */
export type LoweredImageConfig = Omit<ImageConfig, 'rootfs'>;

/** Docker's default PATH for Linux containers, set when an image has none. */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The config of `FROM scratch`, as BuildKit's emptyImage: PATH set, WorkingDir `/`. */
export function emptyImage(platform: Platform): WorkingImage {
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant === undefined ? {} : { variant: platform.variant }),
    config: { Env: [DEFAULT_PATH_ENV], WorkingDir: '/' },
    history: [],
  };
}

/** A working copy of a base image's config: `created` and rootfs dropped, arrays copied. */
export function workingImageOf(config: ImageConfig): WorkingImage {
  const copy = structuredClone<ImageConfig>(config);
  const image: WorkingImage = {
    architecture: copy.architecture,
    os: copy.os,
    ...(copy.variant === undefined ? {} : { variant: copy.variant }),
    ...(copy.author === undefined ? {} : { author: copy.author }),
    config: copy.config as WorkingContainerConfig,
    history: [...(copy.history ?? [])],
  };
  return image;
}

export function cloneWorkingImage(image: WorkingImage): WorkingImage {
  return structuredClone(image);
}
