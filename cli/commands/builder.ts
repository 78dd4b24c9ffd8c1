import { isAbsolute, resolve } from 'node:path';
import { TbuildError } from '../../core/index.js';
import { formatFlagHelp, HELP_FLAG, parseFlags, usage, type FlagSpec } from '../flags.js';
import {
  configDir,
  isAddress,
  LOCAL_BUILDER,
  readBuilderStore,
  writeBuilderStore,
  type NamedBuilder,
} from '../remote-builder/builder-store.js';

const CREATE_FLAGS: readonly FlagSpec[] = [
  {
    name: 'tls-ca',
    type: 'string',
    value: 'FILE',
    description: "CA that signed the builder's certificate (PEM); turns TLS on",
  },
  {
    name: 'tls-cert',
    type: 'string',
    value: 'FILE',
    description: 'Client certificate (PEM), for a builder that asks for one',
  },
  { name: 'tls-key', type: 'string', value: 'FILE', description: "The client certificate's key" },
  {
    name: 'token-file',
    type: 'string',
    value: 'FILE',
    description: "File holding the service's token (read at each build)",
  },
  { name: 'use', type: 'boolean', description: 'Use the new builder from now on' },
  HELP_FLAG,
];

const HELP = `Usage: tbuild builder create [OPTIONS] NAME ADDR
       tbuild builder ls
       tbuild builder use NAME
       tbuild builder rm NAME

Manage remote builders, as docker buildx create/ls/use/rm: builds with
--builder NAME (or TBUILD_BUILDER, or the one in use) run on the tbuild serve
--grpc at ADDR (tcp://HOST:PORT or unix:///PATH). The builder "local" is this
machine. See docs/remote-builders.md.

Options of create:
${formatFlagHelp(CREATE_FLAGS)}`;

/** `tbuild builder create|ls|use|rm`: the builders in $TBUILD_CONFIG_DIR/builders.json. */
export async function runBuilder(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    console.log(HELP);
    return sub === undefined ? 2 : 0;
  }
  const dir = configDir(process.env);
  const store = await readBuilderStore(dir);
  const flags = parseFlags(rest, sub === 'create' ? CREATE_FLAGS : [HELP_FLAG]);
  if (flags.booleans.get('help') === true) {
    console.log(HELP);
    return 0;
  }
  const args = flags.positionals;
  switch (sub) {
    case 'create': {
      const [name, address] = args;
      if (name === undefined || address === undefined || args.length > 2)
        throw usage(
          '"tbuild builder create" requires NAME and ADDR',
          'tbuild builder create NAME tcp://HOST:PORT',
        );
      checkName(name);
      if (!isAddress(address))
        throw usage(`invalid builder address "${address}"`, 'use tcp://HOST:PORT or unix:///PATH');
      const file = (flag: string): Partial<Record<string, string>> => {
        const value = flags.strings.get(flag);
        return value === undefined
          ? {}
          : { [camel(flag)]: isAbsolute(value) ? value : resolve(value) };
      };
      const builder: NamedBuilder = {
        address,
        ...file('tls-ca'),
        ...file('tls-cert'),
        ...file('tls-key'),
        ...file('token-file'),
      };
      const use = flags.booleans.get('use') === true;
      await writeBuilderStore(dir, {
        ...(use
          ? { current: name }
          : store.current === undefined
            ? {}
            : { current: store.current }),
        builders: { ...store.builders, [name]: builder },
      });
      console.log(name);
      return 0;
    }
    case 'ls': {
      const current = store.current ?? LOCAL_BUILDER;
      const rows = [
        ['NAME', 'ADDRESS', 'TLS'],
        [LOCAL_BUILDER, 'this machine', ''],
        ...Object.entries(store.builders).map(([name, builder]) => [
          name,
          builder.address,
          builder.tlsCa !== undefined || builder.tlsCert !== undefined ? 'yes' : 'no',
        ]),
      ].map(([name = '', ...cells], index) => [
        index > 0 && name === current ? `${name} *` : name,
        ...cells,
      ]);
      const widths = [0, 1].map((column) =>
        Math.max(...rows.map((row) => (row[column] ?? '').length)),
      );
      for (const row of rows)
        console.log(
          row
            .map((cell, column) => (column < 2 ? cell.padEnd((widths[column] ?? 0) + 3) : cell))
            .join('')
            .trimEnd(),
        );
      return 0;
    }
    case 'use': {
      const [name] = args;
      if (name === undefined || args.length > 1) throw usage('"tbuild builder use" requires NAME');
      if (name !== LOCAL_BUILDER) known(store.builders, name);
      await writeBuilderStore(
        dir,
        name === LOCAL_BUILDER
          ? { builders: store.builders }
          : { current: name, builders: store.builders },
      );
      return 0;
    }
    case 'rm': {
      const [name] = args;
      if (name === undefined || args.length > 1) throw usage('"tbuild builder rm" requires NAME');
      known(store.builders, name);
      const builders = Object.fromEntries(
        Object.entries(store.builders).filter(([other]) => other !== name),
      );
      await writeBuilderStore(
        dir,
        store.current === undefined || store.current === name
          ? { builders }
          : { current: store.current, builders },
      );
      return 0;
    }
    default:
      throw usage(`unknown command "tbuild builder ${sub}"`, 'use create, ls, use or rm');
  }
}

function checkName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) || name === LOCAL_BUILDER)
    throw usage(
      `invalid builder name "${name}"`,
      `letters, digits, "_", "." and "-"; "${LOCAL_BUILDER}" is this machine`,
    );
}

function known(builders: Readonly<Record<string, NamedBuilder>>, name: string): void {
  if (builders[name] === undefined)
    throw new TbuildError('TB_BUILDER_NOT_FOUND', `no builder named "${name}"`, {
      hint: 'tbuild builder ls lists them',
    });
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_match, letter: string) => letter.toUpperCase());
}
