/**
 * --context: the notebook's repository at the pinned commit, downloaded as the kernel's working
 * directory (a notebook that reads files beside it finds them, as on the author's machine).
 */
import { join } from 'node:path';
import { fetchRepositoryContext, type RepositoryContext, type SourceOptions } from '@nes/sources';
import type { CliOptions } from './args.ts';
import { usageError } from './cli-error.ts';
import type { FetchedInput } from './input.ts';
import { isDirectory } from './places.ts';
import type { Reporter } from './reporter.ts';
import type { RunRecorder } from './run-record.ts';

/**
 * --context: the repository at the pinned commit, extracted into `dir`. Returns the directory the
 * kernel should start in (the notebook's own, or the nearest that exists).
 */
export async function downloadContext(
  fetched: FetchedInput,
  dir: string,
  options: CliOptions,
  deps: { sourceOptions: SourceOptions; recorder: RunRecorder; reporter: Reporter },
): Promise<string> {
  const source = fetched.record.source;
  if (fetched.record.kind !== 'github' || source === null) {
    throw usageError(
      `--context needs a GitHub INPUT (github:// or a GitHub blob URL); this one is ${fetched.record.kind}`,
    );
  }
  let context: RepositoryContext;
  try {
    context = await fetchRepositoryContext(source, dir, {
      ...deps.sourceOptions,
      ...(options.contextSubdir === undefined ? {} : { subdirectory: options.contextSubdir }),
    });
  } catch (error) {
    throw await deps.recorder.sourceFailure(error);
  }
  deps.reporter.log(
    'INFO',
    `Repository context: ${source.repository} at ${source.commitSha?.slice(0, 12)}, ${context.files} files in ${dir}`,
  );
  return contextWorkingDirectory(context, dir, options.contextSubdir);
}

/** The notebook's own directory in the downloaded repository, or the nearest that exists. */
function contextWorkingDirectory(
  context: RepositoryContext,
  dir: string,
  subdir: string | undefined,
): string {
  if (isDirectory(context.workingDirectory)) return context.workingDirectory;
  if (subdir !== undefined && isDirectory(join(dir, subdir))) return join(dir, subdir);
  return dir;
}
