import { TbuildError, toTbuildError } from '../core/index.js';
import {
  checkOptionsFor,
  Linter,
  listTargets,
  lowerDockerfile,
  outlineTarget,
  parseDockerfile,
  type CheckWarning,
  type ImageMetaResolver,
  type Outline,
  type TargetList,
} from '../frontend/index.js';
import type { BuildInputs } from './inputs.js';
import type { BuildOptions } from './options.js';

/**
 * `--call`: what to do instead of building, as buildx's CallFunc: `check` (the build
 * checks alone), `outline` (the target's build args, secrets, ssh), `targets`
 * (the stages), each as text or `format=json`.
 */
export interface CallSpec {
  readonly name: 'check' | 'outline' | 'targets';
  readonly format: 'text' | 'json';
  /** `ignorestatus=true`: exit 0 even when checks found something. */
  readonly ignoreStatus: boolean;
}

const CALL_NAMES = ['build', 'check', 'outline', 'targets'];

/** Reads `--call=NAME[,format=json][,ignorestatus=true]` and `--check`; undefined means build. */
export function parseCallSpec(
  text: string | undefined,
  check: boolean | undefined,
): CallSpec | undefined {
  const value = check === true ? 'check' : (text ?? 'build');
  let name: string | undefined;
  let format: 'text' | 'json' = 'text';
  let ignoreStatus = false;
  for (const field of value.split(',')) {
    const equals = field.indexOf('=');
    if (equals < 0) {
      if (name !== undefined) throw usage(`invalid --call value "${value}"`);
      name = field === 'lint' ? 'check' : field;
      continue;
    }
    const key = field.slice(0, equals);
    const setting = field.slice(equals + 1);
    if (key === 'format') {
      if (setting !== 'json' && setting !== 'text')
        throw usage(`invalid --call format "${setting}": use json or text`);
      format = setting;
    } else if (key === 'ignorestatus') {
      if (!['true', 'false', '1', '0'].includes(setting))
        throw usage(`invalid ignorestatus print value: ${setting}`);
      ignoreStatus = setting === 'true' || setting === '1';
    } else {
      throw usage(`invalid print field: ${field}`);
    }
  }
  if (name === undefined || name === 'build') return undefined;
  if (name !== 'check' && name !== 'outline' && name !== 'targets')
    throw usage(`unsupported --call method "${name}": use ${CALL_NAMES.join(', ')}`);
  return { name, format, ignoreStatus };
}

function usage(message: string): TbuildError {
  return new TbuildError('TB_USAGE', message, {
    hint: '--call=build|check|outline|targets[,format=json]',
  });
}

export type CallResult =
  | {
      readonly name: 'check';
      readonly file: string;
      readonly text: string;
      readonly warnings: readonly CheckWarning[];
      /** The Dockerfile error the check ran into, if any (BuildKit's buildError). */
      readonly error?: TbuildError;
    }
  | { readonly name: 'outline'; readonly outline: Outline }
  | { readonly name: 'targets'; readonly list: TargetList };

export interface CallJob {
  readonly spec: CallSpec;
  readonly options: BuildOptions;
  readonly inputs: BuildInputs;
  /** Base images for `check` (their ENV for UndefinedVar), as a build resolves them. */
  readonly resolver: ImageMetaResolver;
  readonly signal: AbortSignal;
}

/** Answers a `--call` without building anything. */
export async function runCall(job: CallJob): Promise<CallResult> {
  const { inputs, options } = job;
  const file = inputs.dockerfileName;
  if (job.spec.name !== 'check') {
    const parsed = parseDockerfile(inputs.dockerfileText, { file });
    return job.spec.name === 'targets'
      ? { name: 'targets', list: listTargets(parsed, inputs.dockerfileText) }
      : {
          name: 'outline',
          outline: outlineTarget(
            parsed,
            {
              buildArgs: options.buildArgs,
              ...(options.target === undefined ? {} : { target: options.target }),
            },
            inputs.dockerfileText,
          ),
        };
  }
  const text = inputs.dockerfileText;
  let parsed;
  try {
    parsed = parseDockerfile(text, { file });
  } catch (error) {
    return { name: 'check', file, text, warnings: [], error: toTbuildError(error) };
  }
  const linter = new Linter(checkOptionsFor(parsed.directives, options.buildArgs));
  try {
    // Without --target every stage is checked, as BuildKit's lint request does.
    await lowerDockerfile(parsed, {
      file,
      linter,
      allStages: options.target === undefined,
      buildArgs: options.buildArgs,
      ...(options.target === undefined ? {} : { target: options.target }),
      resolver: job.resolver,
      dockerignore: inputs.dockerignore,
      entitlements: ['network.host', 'security.insecure'],
      signal: job.signal,
    });
  } catch (error) {
    if (job.signal.aborted) throw error;
    return { name: 'check', file, text, warnings: linter.warnings, error: toTbuildError(error) };
  }
  return { name: 'check', file, text, warnings: linter.warnings };
}
