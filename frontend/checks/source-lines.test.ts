import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../dockerfile/index.js';
import { docComment, precedingComments } from './source-lines.js';

describe('comments before instructions', () => {
  const text = `# syntax=docker/dockerfile:1
# VERSION sets the version
ARG VERSION=1

# base is the base stage
FROM scratch AS base
RUN true \\
  # not a description
  && true
# an unrelated note
#
# app builds the app
FROM base AS app
`;
  const parsed = parseDockerfile(text, { file: 'Dockerfile' });
  const comments = precedingComments(parsed);

  it('collects the comments since the previous instruction, without directives', () => {
    expect(comments.get(3)).toEqual(['VERSION sets the version']);
    expect(comments.get(6)).toEqual(['base is the base stage']);
    expect(comments.get(7)).toEqual([]);
    // An empty `#` starts the run again.
    expect(comments.get(13)).toEqual(['app builds the app']);
  });

  it('takes a description from the comment that starts with the name', () => {
    expect(docComment(comments.get(6), 'base')).toBe('is the base stage');
    expect(docComment(comments.get(3), 'VERSION')).toBe('sets the version');
    expect(docComment(comments.get(3), 'OTHER')).toBe('');
  });
});
