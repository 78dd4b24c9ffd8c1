import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  requires,
  rootWithBusybox,
  runTbuild,
  useBuildRoot,
  writeContext,
  type CliResult,
} from '../harness/index.js';

/**
 * The `tbuild` flags and commands of issue #4's CLI section that no other e2e file
 * exercises, each through the built CLI on a real root: Dockerfile from stdin, the
 * default command, --target, repeated -t, --label, --iidfile, --metadata-file, -q with
 * no output, every --progress mode, --platform, --network, --add-host, --ssh with a
 * real ssh-agent, --secret env=, --root, the docker/tar/oci-directory outputs,
 * load/graph/version, --help on every command, and the exit codes.
 */
let root = '';
let work = '';

useBuildRoot('tbuild-e2e-cli-', (dirs) => {
  ({ root, work } = dirs);
});

let contexts = 0;

/** A fresh context directory holding `files` (Dockerfile included, if given). */
function context(files: Record<string, string>): Promise<string> {
  return writeContext(join(work, `ctx-${String(++contexts)}`), files);
}

function tbuild(
  args: readonly string[],
  options: { input?: string; cwd?: string } = {},
): CliResult {
  return runTbuild(args, { root, ...options });
}

function ok(result: CliResult): void {
  expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(result.code, result.stderr).toBe(0);
}

function needs(ctx: TestContext): void {
  requires(ctx, 'root', 'overlay', 'busybox');
}

interface OciImage {
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly config: {
    config: { Labels?: Record<string, string>; Cmd?: string[] };
    history?: { created_by?: string }[];
  };
}

/** The image of an OCI layout directory (`-o type=oci,tar=false`). */
async function readOciLayout(dir: string): Promise<OciImage> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const manifestDigest = index.manifests[0]?.digest ?? '';
  const blob = (digest: string): Promise<string> =>
    readFile(join(dir, 'blobs', ...digest.split(':')), 'utf8');
  const manifest = JSON.parse(await blob(manifestDigest)) as { config: { digest: string } };
  const configDigest = manifest.config.digest;
  return {
    manifestDigest,
    configDigest,
    config: JSON.parse(await blob(configDigest)) as OciImage['config'],
  };
}

describe('build flags', () => {
  it('-f - reads the Dockerfile from stdin; --iidfile, --metadata-file, --label and -t twice describe the same image', async (ctx) => {
    needs(ctx);
    const dir = await context({ 'data.txt': 'from the context\n' });
    const layout = join(work, 'stdin-layout');
    const iidfile = join(work, 'iid');
    const metadataFile = join(work, 'metadata.json');
    const result = tbuild(
      [
        'build',
        '-q',
        '-f',
        '-',
        '--label',
        'org.example.team=builders',
        '--label',
        'org.example.empty=',
        '--iidfile',
        iidfile,
        '--metadata-file',
        metadataFile,
        '-t',
        'e2e/stdin:one',
        '-t',
        'e2e/stdin:two',
        '-o',
        `type=oci,tar=false,dest=${layout}`,
        dir,
      ],
      {
        input:
          'FROM busybox\nLABEL org.example.kept=yes\nCOPY data.txt /data.txt\nCMD ["cat", "/data.txt"]\n',
      },
    );
    ok(result);
    const image = await readOciLayout(layout);
    // -q prints the image ID, the config's digest (as buildx).
    expect(result.stdout).toBe(`${image.configDigest}\n`);
    expect(image.config.config.Labels).toEqual({
      'org.example.kept': 'yes',
      'org.example.team': 'builders',
      'org.example.empty': '',
    });
    expect(image.config.config.Cmd).toEqual(['cat', '/data.txt']);
    // buildx writes the image ID, the config digest, with no newline.
    expect(await readFile(iidfile, 'utf8')).toBe(image.configDigest);
    const metadata = JSON.parse(await readFile(metadataFile, 'utf8')) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      'containerimage.digest': image.manifestDigest,
      'containerimage.config.digest': image.configDigest,
      'image.name': 'e2e/stdin:one,e2e/stdin:two',
    });
    // -o given with -t: the tags name the OCI output, the local store is not written.
    const layoutIndex = await readFile(join(layout, 'index.json'), 'utf8');
    expect(layoutIndex).toContain('e2e/stdin:one');
    expect(tbuild(['images', '-q', 'e2e/stdin']).stdout.trim()).toBe('');
  });

  it('tbuild CONTEXT is tbuild build; -f names another Dockerfile; --target stops at a stage; both -t tags land in the store', async (ctx) => {
    needs(ctx);
    const dir = await context({
      'build.Dockerfile':
        'FROM busybox AS first\nRUN echo first > /stage\nFROM first AS second\nRUN echo second > /stage\nFROM busybox\nRUN false\n',
    });
    const result = tbuild(
      ['-q', '-f', 'build.Dockerfile', '--target', 'second', '-t', 'e2e/t:a', '-t', 'e2e/t:b', '.'],
      {
        cwd: dir,
      },
    );
    ok(result);
    const ids = tbuild(['images', '-q', '--no-trunc', 'e2e/t']).stdout.trim().split('\n');
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
    const out = join(work, 'target-out');
    ok(
      tbuild([
        'build',
        '-f',
        join(dir, 'build.Dockerfile'),
        '--target',
        'first',
        '-o',
        `type=local,dest=${out}`,
        dir,
      ]),
    );
    expect(await readFile(join(out, 'stage'), 'utf8')).toBe('first\n');
    const missing = tbuild([
      'build',
      '-f',
      join(dir, 'build.Dockerfile'),
      '--target',
      'third',
      dir,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('third');
  });

  it('-q without -o or -t prints the digest and warns on stderr that the result stays in the cache', async (ctx) => {
    needs(ctx);
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN echo quiet > /q\n' });
    // SOURCE_DATE_EPOCH pins the created times, so both builds describe one image.
    const epoch = { SOURCE_DATE_EPOCH: '1700000000' };
    const result = runTbuild(['build', '-q', dir], { root, env: epoch });
    ok(result);
    expect(result.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(result.stderr).toMatch(/WARNING: No output specified/);
    // The same build with -t stores an image whose ID is that digest.
    const tagged = runTbuild(['build', '-q', '-t', 'e2e/quiet:1', dir], { root, env: epoch });
    ok(tagged);
    expect(tagged.stdout).toBe(result.stdout);
    expect(tagged.stderr).not.toMatch(/WARNING/);
  });

  it('--progress: plain never clips logs, rawjson is one status object per line, tty repaints, quiet prints nothing', async (ctx) => {
    needs(ctx);
    const dir = await context({
      Dockerfile:
        'FROM busybox\nARG N\nRUN i=1; while [ $i -le 400 ]; do echo "line $i of $N"; i=$((i+1)); done\n',
    });
    const plain = tbuild(['build', '--progress=plain', '--build-arg', 'N=plain', dir]);
    ok(plain);
    for (const n of [1, 200, 400])
      expect(plain.stderr).toMatch(new RegExp(`^#\\d+ [\\d.]+ line ${String(n)} of plain$`, 'm'));
    expect(plain.stderr.match(/ line \d+ of plain$/gm)).toHaveLength(400);
    expect(plain.stderr).toMatch(/^#\d+ DONE [\d.]+s$/m);
    expect(plain.stderr).toMatch(/^#\d+ CACHED$/m);

    const raw = tbuild(['build', '--progress=rawjson', '--build-arg', 'N=raw', dir]);
    ok(raw);
    const statuses = raw.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map(
        (line) =>
          JSON.parse(line) as {
            vertexes?: { name: string; completed?: string }[];
            logs?: { data: string }[];
          },
      );
    expect(statuses.length).toBeGreaterThan(2);
    const logs = statuses
      .flatMap((status) => status.logs ?? [])
      .map((log) => Buffer.from(log.data, 'base64').toString())
      .join('');
    expect(logs).toContain('line 400 of raw\n');
    expect(
      statuses
        .flatMap((status) => status.vertexes ?? [])
        .some((vertex) => vertex.name.includes('RUN') && vertex.completed !== undefined),
    ).toBe(true);

    const tty = tbuild(['build', '--progress=tty', '--build-arg', 'N=tty', dir]);
    ok(tty);
    expect(tty.stderr).toMatch(/\[\+\] Building [\d.]+s \(\d+\/\d+\) FINISHED/);
    expect(tty.stderr).toContain('\u001b['); // cursor movement: the display repaints in place

    const quiet = tbuild([
      'build',
      '--progress=quiet',
      '--build-arg',
      'N=quiet',
      '-o',
      `type=local,dest=${join(work, 'quiet-out')}`,
      dir,
    ]);
    ok(quiet);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe('');
  });

  it('--platform: linux/amd64 builds, another platform is a clear usage error (exit 2)', async (ctx) => {
    needs(ctx);
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN uname -m > /arch\n' });
    const out = join(work, 'platform-out');
    ok(tbuild(['build', '--platform', 'linux/amd64', '-o', `type=local,dest=${out}`, dir]));
    expect(await readFile(join(out, 'arch'), 'utf8')).toBe('x86_64\n');
    const arm = tbuild(['build', '--platform', 'linux/arm64', dir]);
    expect(arm.code).toBe(2);
    expect(arm.stderr).toContain('unsupported --platform "linux/arm64"');
    expect(arm.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('--network=none leaves RUN only loopback, --network=host the host interfaces, --add-host writes /etc/hosts', async (ctx) => {
    needs(ctx);
    const dir = await context({
      Dockerfile:
        'FROM busybox\nARG MODE\nRUN echo $MODE; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort > /interfaces && cp /etc/hosts /hosts\n',
    });
    const build = async (
      mode: string,
      extra: string[] = [],
    ): Promise<{ interfaces: string[]; hosts: string }> => {
      const out = join(work, `net-${mode}`);
      ok(
        tbuild([
          'build',
          `--network=${mode}`,
          '--build-arg',
          `MODE=${mode}`,
          ...extra,
          '-o',
          `type=local,dest=${out}`,
          dir,
        ]),
      );
      return {
        interfaces: (await readFile(join(out, 'interfaces'), 'utf8')).trim().split('\n'),
        hosts: await readFile(join(out, 'hosts'), 'utf8'),
      };
    };
    const none = await build('none', [
      '--add-host',
      'db.internal:10.11.12.13',
      '--add-host',
      'v6.internal:fd00::1',
    ]);
    expect(none.interfaces).toEqual(['lo']);
    expect(none.hosts).toMatch(/^10\.11\.12\.13\tdb\.internal$/m);
    expect(none.hosts).toMatch(/^fd00::1\tv6\.internal$/m);
    const hostInterfaces = (await readFile('/proc/net/dev', 'utf8'))
      .split('\n')
      .slice(2)
      .map((line) => line.split(':')[0]?.trim() ?? '')
      .filter(Boolean)
      .sort();
    expect((await build('host')).interfaces).toEqual(hostInterfaces);
    expect(tbuild(['build', '--network=bridge', dir]).code).toBe(2);
    expect(tbuild(['build', '--add-host', 'nohost', dir]).code).toBe(2);
  });

  it('--secret id=…,env=VAR reaches RUN and no layer', async (ctx) => {
    needs(ctx);
    const dir = await context({
      Dockerfile:
        'FROM busybox\nRUN --mount=type=secret,id=tok,required=true wc -c < /run/secrets/tok > /size\n',
    });
    const out = join(work, 'secret-env');
    const result = runTbuild(
      ['build', '--secret', 'id=tok,env=E2E_TOKEN', '-o', `type=tar,dest=${out}.tar`, dir],
      {
        root,
        env: { E2E_TOKEN: 'secret-from-env-123' },
      },
    );
    ok(result);
    const listing = execFileSync('tar', ['-xOf', `${out}.tar`, 'size'], { encoding: 'utf8' });
    expect(listing.trim()).toBe('19');
    expect((await readFile(`${out}.tar`)).includes('secret-from-env-123')).toBe(false);
  });

  it('--root DIR is the store, as TBUILD_ROOT is', async (ctx) => {
    needs(ctx);
    const other = await rootWithBusybox();
    ctx.onTestFinished(() => rm(other, { recursive: true, force: true }));
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN echo rooted > /r\n' });
    ok(
      runTbuild(['build', '-q', '--root', other, '-t', 'e2e/rooted:1', dir], {
        env: { TBUILD_ROOT: root },
      }),
    );
    expect(runTbuild(['images', '-q', '--root', other, 'e2e/rooted']).stdout.trim()).toMatch(
      /^[0-9a-f]{12}$/,
    );
    expect(tbuild(['images', '-q', 'e2e/rooted']).stdout.trim()).toBe('');
  });
});

describe('--ssh with a real ssh-agent', () => {
  let agent: ChildProcess | undefined;
  let socket = '';
  let tools = '';

  beforeAll(async () => {
    if (process.getuid?.() !== 0) return;
    const dir = join(work, 'ssh');
    await mkdir(dir);
    socket = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    for (
      let tries = 0;
      tries < 100 &&
      !(await stat(socket).then(
        () => true,
        () => false,
      ));
      tries++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'tbuild-e2e-key',
      '-f',
      join(dir, 'key'),
    ]);
    execFileSync('ssh-add', [join(dir, 'key')], {
      env: { ...process.env, SSH_AUTH_SOCK: socket },
      stdio: 'ignore',
    });
    // The host's ssh-add and its libraries, run by the dynamic loader inside busybox: a
    // real agent-protocol client in the RUN step.
    tools = await context({});
    const ldd = execFileSync('ldd', ['/usr/bin/ssh-add'], { encoding: 'utf8' });
    for (const path of ['/usr/bin/ssh-add', ...(ldd.match(/\/\S+/g) ?? [])]) {
      await copyFile(path, join(tools, basename(path)));
    }
  });

  afterAll(() => {
    agent?.kill();
  });

  it('RUN --mount=type=ssh reaches the agent of --ssh default and of --ssh ID=SOCKET', async (ctx) => {
    needs(ctx);
    requires(ctx, 'ssh-agent');
    const run = '/t/ld-linux-x86-64.so.2 --library-path /t /t/ssh-add -l';
    await writeFile(
      join(tools, 'Dockerfile'),
      [
        'FROM busybox',
        `RUN --mount=type=ssh --mount=type=bind,target=/t ${run} > /default-keys`,
        `RUN --mount=type=ssh,id=deploy,target=/agent.sock --mount=type=bind,target=/t SSH_AUTH_SOCK=/agent.sock ${run} > /deploy-keys`,
        '',
      ].join('\n'),
    );
    const out = join(work, 'ssh-out');
    const result = runTbuild(
      [
        'build',
        '--ssh',
        'default',
        '--ssh',
        `deploy=${socket}`,
        '-o',
        `type=local,dest=${out}`,
        tools,
      ],
      {
        root,
        env: { SSH_AUTH_SOCK: socket },
      },
    );
    ok(result);
    expect(await readFile(join(out, 'default-keys'), 'utf8')).toMatch(
      /^256 SHA256:\S+ tbuild-e2e-key \(ED25519\)$/m,
    );
    expect(await readFile(join(out, 'deploy-keys'), 'utf8')).toContain('tbuild-e2e-key');

    // A step that requires an ssh id the build was not given fails clearly (without
    // required=true, BuildKit and tbuild skip the mount).
    await writeFile(
      join(tools, 'Dockerfile'),
      'FROM busybox\nRUN --mount=type=ssh,id=absent,required=true true\n',
    );
    const missing = runTbuild(['build', '--no-cache', '--ssh', 'default', tools], {
      root,
      env: { SSH_AUTH_SOCK: socket },
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('absent');
  });
});

describe('outputs', () => {
  it('type=docker is a docker archive, type=tar is the filesystem, type=oci,tar=false is a layout skopeo reads', async (ctx) => {
    needs(ctx);
    requires(ctx, 'skopeo');
    const dir = await context({
      Dockerfile: 'FROM busybox\nRUN echo out > /out.txt\nCMD ["cat", "/out.txt"]\n',
    });
    const dockerTar = join(work, 'docker.tar');
    const fsTar = join(work, 'fs.tar');
    const layout = join(work, 'oci-dir');
    const result = tbuild([
      'build',
      '-q',
      // The printed digest is the image ID, the config's digest.
      '-o',
      `type=oci,tar=false,dest=${layout},name=tbuild-e2e/outputs:1`,
      '-o',
      `type=docker,dest=${dockerTar},name=tbuild-e2e/outputs:1`,
      '-o',
      `type=tar,dest=${fsTar}`,
      dir,
    ]);
    ok(result);
    const files = execFileSync('tar', ['-tf', fsTar], { encoding: 'utf8' }).split('\n');
    expect(files).toEqual(expect.arrayContaining(['out.txt', 'bin/busybox']));
    expect(files.filter((name) => name.startsWith('./'))).toEqual([]);
    expect(execFileSync('tar', ['-xOf', fsTar, 'out.txt'], { encoding: 'utf8' })).toBe('out\n');
    const inspected = JSON.parse(
      execFileSync('skopeo', ['inspect', `oci:${layout}:1`], { encoding: 'utf8' }),
    ) as { Digest: string };
    const manifest = JSON.parse(
      execFileSync('skopeo', ['inspect', '--raw', `oci:${layout}:1`], { encoding: 'utf8' }),
    ) as { config: { digest: string } };
    expect(inspected.Digest).toMatch(/^sha256:/);
    // -q prints the image ID: the config's digest.
    expect(manifest.config.digest).toBe(result.stdout.trim());
    const archive = JSON.parse(
      execFileSync('skopeo', ['inspect', `docker-archive:${dockerTar}`], { encoding: 'utf8' }),
    ) as { Layers: string[] };
    expect(archive.Layers.length).toBe(2);
    expect((await readdir(layout)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  // `docker load` needs a daemon, which CI does not have; skopeo reads docker-archive the
  // same way (manifest.json, config, layer tars) and umoci unpacks what it copied.
  it('type=docker output is a docker-archive skopeo reads and umoci unpacks', async (ctx) => {
    needs(ctx);
    requires(ctx, 'skopeo', 'umoci');
    const dir = await context({
      Dockerfile: 'FROM busybox\nRUN echo loaded by docker > /out.txt\nCMD ["cat", "/out.txt"]\n',
    });
    const dockerTar = join(work, 'for-docker.tar');
    ok(
      tbuild(['build', '-q', '-o', `type=docker,dest=${dockerTar},name=tbuild-e2e/outputs:1`, dir]),
    );
    const config = JSON.parse(
      execFileSync('skopeo', ['inspect', '--config', '--raw', `docker-archive:${dockerTar}`], {
        encoding: 'utf8',
      }),
    ) as { config?: { Cmd?: string[] } };
    expect(config.config?.Cmd).toEqual(['cat', '/out.txt']);
    const layout = join(work, 'from-docker-archive');
    execFileSync('skopeo', ['copy', `docker-archive:${dockerTar}`, `oci:${layout}:copied`], {
      stdio: 'ignore',
    });
    const bundle = join(work, 'from-docker-archive-bundle');
    execFileSync('umoci', ['unpack', '--image', `${layout}:copied`, bundle], { stdio: 'ignore' });
    expect(await readFile(join(bundle, 'rootfs/out.txt'), 'utf8')).toBe('loaded by docker\n');
  });
});

describe('commands', () => {
  it('tbuild load reads a docker-archive and an OCI layout tar; builds use what it loaded', async (ctx) => {
    needs(ctx);
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN echo loaded > /loaded\n' });
    const dockerTar = join(work, 'load-docker.tar');
    const ociTar = join(work, 'load-oci.tar');
    ok(
      tbuild([
        'build',
        '-q',
        '-o',
        `type=docker,dest=${dockerTar},name=e2e/loaded-docker:1`,
        '-o',
        `type=oci,dest=${ociTar},name=e2e/loaded-oci:1`,
        dir,
      ]),
    );
    const fresh = await rootWithBusybox();
    ctx.onTestFinished(() => rm(fresh, { recursive: true, force: true }));
    for (const [file, name] of [
      [dockerTar, 'e2e/loaded-docker:1'],
      [ociTar, 'e2e/loaded-oci:1'],
    ] as const) {
      const loaded = runTbuild(['load', file], { root: fresh });
      ok(loaded);
      expect(loaded.stdout).toContain(name);
      const next = await context({ Dockerfile: `FROM ${name}\nRUN cat /loaded > /again\n` });
      const out = `${next}-out`;
      ok(runTbuild(['build', '-o', `type=local,dest=${out}`, next], { root: fresh }));
      expect(await readFile(join(out, 'again'), 'utf8')).toBe('loaded\n');
    }
    const bad = runTbuild(['load', join(work, 'no-such.tar')], { root: fresh });
    expect(bad.code).toBe(1);
  });

  it('graph and version print, and --help works on every command', () => {
    const version = runTbuild(['version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^tbuild \d+\.\d+\.\d+/);
    const graph = runTbuild(['graph', 'Dockerfile.examples/multi-stage']);
    expect(graph.code, graph.stderr).toBe(0);
    expect(graph.stdout).toContain('greet');
    const top = runTbuild(['--help']);
    expect(top.code).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map(([, name]) => name ?? '');
    expect(commands).toEqual(
      expect.arrayContaining(['build', 'graph', 'du', 'images', 'load', 'prune', 'version']),
    );
    for (const command of commands) {
      for (const flag of ['--help', '-h']) {
        const help = runTbuild([command, flag]);
        expect(help.code, `${command} ${flag}: ${help.stderr}`).toBe(0);
        // A short form (rmi, tag, history) is the second line of its command's usage, as docker's aliases.
        expect(help.stdout).toMatch(new RegExp(`^(Usage:| {6}) tbuild ${command}\\b`, 'm'));
      }
    }
  });

  it('exit codes: 0 on success, 1 when a step fails, 2 on usage errors', async (ctx) => {
    needs(ctx);
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN echo before; exit 3\n' });
    const failed = tbuild(['build', '--progress=plain', dir]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('exit 3');
    expect(failed.stderr).not.toMatch(/at .*\.js:\d+/);
    const usageErrors: string[][] = [
      ['nosuchcommand'],
      ['build'],
      ['build', '--no-such-flag', dir],
      ['build', '-o', 'type=floppy', dir],
      ['build', '--progress=loud', dir],
      ['build', '--build-arg', dir],
      ['build', '--max-parallelism', 'zero', dir],
      ['build', dir, dir],
    ];
    for (const args of usageErrors) {
      const result = tbuild(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^ERROR: /m);
    }
    expect(tbuild(['build', '--no-cach', dir]).stderr).toContain('did you mean --no-cache');
    ok(tbuild(['build', await context({ Dockerfile: 'FROM busybox\n' })]));
  });
});
