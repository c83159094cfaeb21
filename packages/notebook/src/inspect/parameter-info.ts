/** One parameter found in a parameters cell, with papermill's fields renamed for TypeScript. */
export interface ParameterInfo {
  name: string;
  /** papermill's `inferred_type_name`: the annotation or `# type:` comment; null when none. */
  type: string | null;
  /** The default's source text, comments removed and lines joined (papermill's `default`). */
  default: string;
  /** The trailing comment after the assignment (papermill's `help`), or ''. */
  help: string;
}

/** papermill's trailing-comment rule: an optional `type: T` then free help text. */
export function splitTypeComment(comment: string | undefined): {
  typeComment: string | undefined;
  help: string;
} {
  if (comment === undefined) return { typeComment: undefined, help: '' };
  const match = /^\s*(?:type:\s*(?<type>\S*)\s*)?(?<help>.*)$/s.exec(comment);
  return {
    typeComment: match?.groups?.type || undefined,
    help: (match?.groups?.help ?? '').trim(),
  };
}
