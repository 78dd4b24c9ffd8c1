import { readPackageInfo } from '../package-info.js';

export function runVersion(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('Usage: tbuild version\n\nShow the tbuild version');
    return Promise.resolve(0);
  }
  const { version } = readPackageInfo();
  console.log(`tbuild ${version} (node ${process.version}, ${process.platform}/${process.arch})`);
  return Promise.resolve(0);
}
