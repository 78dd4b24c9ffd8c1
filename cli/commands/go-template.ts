import { usage } from '../flags.js';

/**
 * The part of Go's text/template that `docker ... --format` users write:
 * `{{.Field}}`, `{{.Config.Env}}`, `{{json .}}` and `{{json .Field}}`, with
 * `\t` and `\n` written as two characters turned into a tab and a newline (as
 * docker's formatter does). Anything else in `{{ }}` is refused rather than
 * printed wrong.
 */
export function renderGoTemplate(template: string, value: unknown, flag: string): string {
  const action = /\{\{-?\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*-?\}\}/g;
  const rendered = template.replace(action, (_match, json: string | undefined, path: string) => {
    const found = lookup(value, path, flag);
    if (found === undefined) return json === undefined ? '<no value>' : 'null';
    if (json !== undefined) return JSON.stringify(found);
    return typeof found === 'string' ? found : JSON.stringify(found);
  });
  if (rendered.includes('{{')) {
    throw usage(
      `unsupported template in ${flag} "${template}"`,
      'tbuild supports {{.Field}}, {{.A.B}}, {{json .}} and {{json .Field}}',
    );
  }
  return rendered.replaceAll('\\t', '\t').replaceAll('\\n', '\n');
}

function lookup(value: unknown, path: string, flag: string): unknown {
  let current = value;
  for (const name of path.split('.').filter((part) => part !== '')) {
    if (typeof current !== 'object' || current === null || !(name in current)) {
      throw usage(
        `${flag}: template field .${path} does not exist`,
        'see the fields of --format json',
      );
    }
    current = (current as Record<string, unknown>)[name];
  }
  return current;
}
