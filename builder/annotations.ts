import { TbuildError } from '../core/index.js';

/**
 * OCI annotations of the exported image, as buildx takes them: `--annotation
 * [TYPE[,TYPE][PLATFORM]:]KEY=VALUE` and `-o type=image,annotation[-TYPE][PLATFORM].KEY=VALUE`.
 * TYPE is `manifest` (the default), `manifest-descriptor`, `index` or
 * `index-descriptor`. tbuild makes one single-platform manifest and never an
 * image index, so index annotations are refused as BuildKit refuses them for a
 * single-platform export ("index annotations not supported for single platform export").
 */
export interface ImageAnnotations {
  /** The manifest's own `annotations`: part of its bytes, so of the image digest. */
  readonly manifest: Readonly<Record<string, string>>;
  /** The manifest's descriptor where one is written: each entry of an OCI layout's index.json. */
  readonly manifestDescriptor: Readonly<Record<string, string>>;
}

export const NO_ANNOTATIONS: ImageAnnotations = { manifest: {}, manifestDescriptor: {} };

const TYPES = ['manifest', 'manifest-descriptor', 'index', 'index-descriptor'] as const;
type AnnotationType = (typeof TYPES)[number];

/** The platform tbuild builds, as an annotation's `[os/arch]` names it. */
const BUILT_PLATFORMS = ['linux/amd64', 'linux/x86_64'];

/** `--annotation` values (repeatable). */
export function parseAnnotationFlags(values: readonly string[]): ImageAnnotations {
  let result = NO_ANNOTATIONS;
  for (const text of values) {
    const equals = text.indexOf('=');
    if (equals < 0)
      throw usage(`invalid --annotation "${text}": expected [TYPE:]KEY=VALUE`, TYPE_HINT);
    const match = /^(?:([a-z,-]+)(?:\[([A-Za-z0-9_/-]+)\])?:)?(\S+)$/.exec(text.slice(0, equals));
    const key = match?.[3];
    if (match === null || key === undefined)
      throw usage(`invalid --annotation "${text}": expected [TYPE:]KEY=VALUE`, TYPE_HINT);
    const types = (match[1] ?? 'manifest').split(',');
    for (const type of types) {
      result = add(result, checkedType(type, `--annotation "${text}"`), match[2], key, {
        value: text.slice(equals + 1),
        flag: `--annotation "${text}"`,
      });
    }
  }
  return result;
}

/**
 * An `-o` option that is an annotation (`annotation.KEY`, `annotation-manifest.KEY`,
 * `annotation-index[linux/amd64].KEY`, …) added to `into`; undefined when `option`
 * is not one (the caller checks its other options).
 */
export function addOutputAnnotation(
  into: ImageAnnotations,
  option: string,
  value: string,
): ImageAnnotations | undefined {
  if (!option.startsWith('annotation')) return undefined;
  const match = /^annotation(?:-([a-z-]+))?(?:\[([A-Za-z0-9_/-]+)\])?\.(\S+)$/.exec(option);
  const key = match?.[3];
  const flag = `--output option "${option}"`;
  if (match === null || key === undefined)
    throw usage(`invalid ${flag}: expected annotation[-TYPE].KEY=VALUE`, TYPE_HINT);
  return add(into, checkedType(match[1] ?? 'manifest', flag), match[2], key, { value, flag });
}

/** `--annotation` values win over the same keys given in `-o`, as buildx sets them last. */
export function mergeAnnotations(
  output: ImageAnnotations | undefined,
  flags: ImageAnnotations | undefined,
): ImageAnnotations {
  return {
    manifest: { ...output?.manifest, ...flags?.manifest },
    manifestDescriptor: { ...output?.manifestDescriptor, ...flags?.manifestDescriptor },
  };
}

export function hasAnnotations(annotations: ImageAnnotations | undefined): boolean {
  return (
    annotations !== undefined &&
    Object.keys(annotations.manifest).length + Object.keys(annotations.manifestDescriptor).length >
      0
  );
}

const TYPE_HINT = `TYPE is one of ${TYPES.join(', ')}; e.g. --annotation manifest:org.opencontainers.image.title=app`;

function checkedType(type: string, flag: string): AnnotationType {
  if (!(TYPES as readonly string[]).includes(type))
    throw usage(`invalid ${flag}: unknown annotation type "${type}"`, TYPE_HINT);
  return type as AnnotationType;
}

function add(
  into: ImageAnnotations,
  type: AnnotationType,
  platform: string | undefined,
  key: string,
  { value, flag }: { value: string; flag: string },
): ImageAnnotations {
  if (type === 'index' || type === 'index-descriptor')
    throw usage(
      `invalid ${flag}: index annotations not supported for single platform export`,
      'tbuild writes a single-platform image manifest and no image index; annotate the manifest (manifest: or manifest-descriptor:)',
    );
  if (platform !== undefined && !BUILT_PLATFORMS.includes(platform.toLowerCase()))
    throw usage(
      `invalid ${flag}: no platform ${platform} in this build`,
      'tbuild builds linux/amd64; drop the [platform] or name linux/amd64',
    );
  return type === 'manifest'
    ? { ...into, manifest: { ...into.manifest, [key]: value } }
    : { ...into, manifestDescriptor: { ...into.manifestDescriptor, [key]: value } };
}

function usage(message: string, hint: string): TbuildError {
  return new TbuildError('TB_USAGE', message, { hint });
}
