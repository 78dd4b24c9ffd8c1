import { describe, expect, it } from 'vitest';
import type { ImageMetaResolver } from '../convert/index.js';
import { ALL_RULES, kebabCase, RULES } from './rules.js';
import { lint } from './lint-harness.js';

/** One case that fires and one that does not, per rule (messages as BuildKit words them). */
const CASES: readonly {
  readonly rule: string;
  readonly fires: string;
  readonly expected: string;
  readonly quiet: string;
  readonly dockerignore?: readonly string[];
}[] = [
  {
    rule: 'StageNameCasing',
    fires: 'FROM scratch AS Build\n',
    expected: "StageNameCasing: Stage name 'Build' should be lowercase (line 1)",
    quiet: 'FROM scratch AS build\n',
  },
  {
    rule: 'FromAsCasing',
    fires: 'FROM scratch as build\n',
    expected: "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
    quiet: 'from scratch as build\n',
  },
  {
    rule: 'NoEmptyContinuation',
    fires: 'FROM scratch\nLABEL a=1 \\\n\n  b=2\n',
    expected: 'NoEmptyContinuation: Empty continuation line (line 4)',
    quiet: 'FROM scratch\nLABEL a=1 \\\n  b=2\n',
  },
  {
    rule: 'ConsistentInstructionCasing',
    fires: 'FROM scratch\nLABEL a=1\nlabel b=2\n',
    expected:
      "ConsistentInstructionCasing: Command 'label' should match the case of the command majority (uppercase) (line 3)",
    quiet: 'from scratch\nlabel a=1\n',
  },
  {
    rule: 'DuplicateStageName',
    fires: 'FROM scratch AS a\nFROM scratch AS a\n',
    expected: 'DuplicateStageName: Duplicate stage name "a", stage names should be unique (line 2)',
    quiet: 'FROM scratch AS a\nFROM scratch AS b\n',
  },
  {
    rule: 'ReservedStageName',
    fires: 'FROM scratch AS context\n',
    expected:
      'ReservedStageName: Stage name should not use the same name as reserved stage "context" (line 1)',
    quiet: 'FROM scratch AS ctx\n',
  },
  {
    rule: 'JSONArgsRecommended',
    fires: 'FROM scratch\nCMD run --fast\n',
    expected:
      'JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 2)',
    quiet: 'FROM scratch\nCMD ["run", "--fast"]\nSHELL ["/bin/bash", "-c"]\nENTRYPOINT run\n',
  },
  {
    rule: 'MaintainerDeprecated',
    fires: 'FROM scratch\nMAINTAINER me\n',
    expected:
      'MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)',
    quiet: 'FROM scratch\nLABEL org.opencontainers.image.authors=me\n',
  },
  {
    rule: 'UndefinedArgInFrom',
    fires: 'ARG VERSION=1\nFROM alpine:${VERSON}\n',
    expected:
      "UndefinedArgInFrom: FROM argument 'VERSON' is not declared (did you mean VERSION?) (line 2)",
    quiet: 'ARG VERSION\nFROM alpine:${VERSION:-3}\n',
  },
  {
    rule: 'WorkdirRelativePath',
    fires: 'FROM scratch\nWORKDIR app\n',
    expected:
      'WorkdirRelativePath: Relative workdir "app" can have unexpected results if the base image changes (line 2)',
    quiet: 'FROM scratch\nWORKDIR /app\nWORKDIR sub\n',
  },
  {
    rule: 'UndefinedVar',
    fires: 'FROM scratch\nENV PATH=$PAHT:/app\n',
    expected: "UndefinedVar: Usage of undefined variable '$PAHT' (did you mean $PATH?) (line 2)",
    quiet: 'FROM scratch\nARG DIR\nENV A=/x\nCOPY $DIR $A\nRUN echo $NOT_CHECKED\n',
  },
  {
    rule: 'MultipleInstructionsDisallowed',
    fires: 'FROM scratch\nCMD ["a"]\nCMD ["b"]\n',
    expected:
      'MultipleInstructionsDisallowed: Multiple CMD instructions should not be used in the same stage because only the last one will be used (line 2)',
    quiet: 'FROM scratch AS a\nCMD ["a"]\nFROM a\nCMD ["b"]\n',
  },
  {
    rule: 'LegacyKeyValueFormat',
    fires: 'FROM scratch\nENV A 1\n',
    expected:
      'LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 2)',
    quiet: 'FROM scratch\nENV A=1\nLABEL b="x y"\n',
  },
  {
    rule: 'RedundantTargetPlatform',
    fires: 'FROM --platform=$TARGETPLATFORM scratch\n',
    expected:
      'RedundantTargetPlatform: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior (line 1)',
    quiet: 'FROM --platform=$BUILDPLATFORM scratch\n',
  },
  {
    rule: 'SecretsUsedInArgOrEnv',
    fires: 'FROM scratch\nARG GITHUB_TOKEN\n',
    expected:
      'SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN") (line 2)',
    quiet: 'FROM scratch\nARG PUBLIC_KEY\nENV TOKENIZER=x\n',
  },
  {
    rule: 'InvalidDefaultArgInFrom',
    fires: 'ARG TAG\nFROM busybox:${TAG}\n',
    expected:
      'InvalidDefaultArgInFrom: Default value for ARG busybox:${TAG} results in empty or invalid base image name (line 2)',
    quiet: 'ARG TAG=latest\nFROM busybox:${TAG}\n',
  },
  {
    rule: 'FromPlatformFlagConstDisallowed',
    fires: 'FROM --platform=linux/amd64 scratch AS build\n',
    expected:
      'FromPlatformFlagConstDisallowed: FROM --platform flag should not use constant value "linux/amd64" (line 1)',
    quiet: 'FROM --platform=linux/amd64 scratch AS build-amd64\n',
  },
  {
    rule: 'CopyIgnoredFile',
    fires: 'FROM scratch\nCOPY secret.txt /\n',
    expected:
      'CopyIgnoredFile: Attempting to Copy file "secret.txt" that is excluded by .dockerignore (line 2)',
    quiet: 'FROM scratch\nCOPY app.txt /\n',
    dockerignore: ['secret.txt'],
  },
  {
    rule: 'InvalidDefinitionDescription',
    fires: '# check=experimental=InvalidDefinitionDescription\n# a comment\nFROM scratch AS base\n',
    expected:
      'InvalidDefinitionDescription: Comment for FROM should follow the format: `# base <description>` (line 3)',
    quiet:
      '# check=experimental=InvalidDefinitionDescription\n# base is the base\nFROM scratch AS base\n',
  },
  {
    rule: 'ExposeProtoCasing',
    fires: 'FROM scratch\nEXPOSE 80/TCP\n',
    expected:
      "ExposeProtoCasing: Defined protocol '80/TCP' in EXPOSE instruction should be lowercase (line 2)",
    quiet: 'FROM scratch\nEXPOSE 80/tcp 53/udp\n',
  },
  {
    rule: 'ExposeInvalidFormat',
    fires: 'FROM scratch\nEXPOSE 8080:80\n',
    expected:
      "ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80' (line 2)",
    quiet: 'FROM scratch\nEXPOSE 80\n',
  },
];

describe('build check rules', () => {
  it('covers every rule of the registry', () => {
    expect(new Set(CASES.map((c) => c.rule))).toEqual(new Set(ALL_RULES.map((r) => r.name)));
  });

  for (const testCase of CASES) {
    const options =
      testCase.dockerignore === undefined ? {} : { dockerignore: testCase.dockerignore };
    it(`${testCase.rule} fires`, async () => {
      const warnings = await lint(testCase.fires, options);
      expect(warnings).toContain(testCase.expected);
    });
    it(`${testCase.rule} stays quiet`, async () => {
      const warnings = await lint(testCase.quiet, options);
      expect(warnings.filter((w) => w.startsWith(`${testCase.rule}:`))).toEqual([]);
    });
  }

  it('names each rule with its documentation URL', () => {
    expect(RULES.JSONArgsRecommended.url).toBe(
      'https://docs.docker.com/go/dockerfile/rule/json-args-recommended/',
    );
    expect(kebabCase('FromPlatformFlagConstDisallowed')).toBe(
      'from-platform-flag-const-disallowed',
    );
  });

  it('UndefinedVar knows the base image ENV', async () => {
    const resolver: ImageMetaResolver = {
      resolve: (ref) =>
        Promise.resolve({
          ref,
          config: {
            architecture: 'amd64',
            os: 'linux',
            config: { Env: ['PATH=/bin', 'NODE_VERSION=20'] },
            rootfs: { type: 'layers', diff_ids: [] },
          },
        }),
    };
    const warnings = await lint('FROM node\nLABEL v=$NODE_VERSION w=$NODE_VERSON\n', { resolver });
    expect(warnings).toEqual([
      "UndefinedVar: Usage of undefined variable '$NODE_VERSON' (did you mean $NODE_VERSION?) (line 2)",
    ]);
  });

  it('checks only the stages the target needs in a build, every stage with --check', async () => {
    const text = 'FROM scratch AS a\nWORKDIR rel\nFROM scratch AS b\nCMD ["b"]\n';
    expect(await lint(text, { target: 'b', allStages: false })).toEqual([]);
    expect(await lint(text)).toEqual([
      'WorkdirRelativePath: Relative workdir "rel" can have unexpected results if the base image changes (line 2)',
    ]);
  });
});
