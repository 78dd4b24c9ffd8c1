import { encodeRawText } from '../../core/index.js';
import type { ParsedDockerfile } from '../dockerfile/index.js';
import { docComment, precedingComments } from '../checks/index.js';
import { locationOf, type TargetList } from './types.js';

/**
 * `--call=targets`: every stage with its description (the comment before its FROM
 * that starts with its name), the last one marked default (BuildKit's ListTargets).
 */
export function listTargets(parsed: ParsedDockerfile, source: string): TargetList {
  const comments = precedingComments(parsed);
  const last = parsed.stages.length - 1;
  return {
    targets: parsed.stages.map(({ from }, index) => {
      const name = from.alias ?? '';
      const description = docComment(comments.get(from.range.startLine), name);
      return {
        ...(name === '' ? {} : { name }),
        ...(index === last ? { default: true } : {}),
        ...(description === '' ? {} : { description }),
        base: from.image,
        ...(from.platform === undefined ? {} : { platform: from.platform }),
        location: locationOf(from.range),
      };
    }),
    sources: [Buffer.from(encodeRawText(source)).toString('base64')],
  };
}
