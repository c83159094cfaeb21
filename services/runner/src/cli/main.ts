/**
 * `nes-run INPUT OUTPUT [options]`: papermill's command line over `executeNotebook`. This is the
 * way in and out: the command line parsed (args.ts), the parameters gathered (params.ts), the run
 * itself (run.ts), and every way out turned into an exit code (the run's failure class, 2 for a
 * usage error) and, with NES_RESULT_FILE, the result file. Every check that can fail runs before
 * anything is written: a usage or source error leaves no output behind.
 */

import { createRequire } from 'node:module';
import { buildResult, EXIT_INFRA, EXIT_SUCCEEDED, RESULT_FILE_ENV } from '@nes/run-contract';
import { parseCommandLine } from './args.ts';
import { CliError } from './cli-error.ts';
import type { EarlyStart } from './early-start.ts';
import { collectParameters } from './params.ts';
import { writeResultFile } from './result-file.ts';
import { writeResultsFile } from './results-file.ts';
import { type NesRunFacts, runNotebook } from './run.ts';
import { redactText, secretValues } from './secrets.ts';
import { writeOut } from './stdout.ts';

function version(): string {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  return pkg.version;
}

/**
 * Runs nes-run and resolves to its exit code. Never calls process.exit itself. With
 * NES_RESULT_FILE set, the run's result is written there on every way out (result-file.ts).
 */
export async function main(argv: string[], started: { early?: EarlyStart } = {}): Promise<number> {
  const secrets: string[] = [];
  const facts: NesRunFacts = {};
  let code = EXIT_INFRA;
  try {
    code = await command(argv, secrets, facts, started.early ?? null);
    return code;
  } finally {
    const resultFile = process.env[RESULT_FILE_ENV];
    const result = buildResult(code, facts, (text) => redactText(text, secrets));
    if (resultFile) writeResultFile(resultFile, result);
    if (facts.resultsFile !== undefined) {
      writeResultsFile(facts.resultsFile, {
        runId: facts.runId,
        status: result.status,
        results: facts.results ?? null,
      });
    }
  }
}

async function command(
  argv: string[],
  secrets: string[],
  facts: NesRunFacts,
  earlyFromBin: EarlyStart | null,
): Promise<number> {
  let handed = false;
  try {
    const command = await parseCommandLine(argv);
    if (command.kind === 'help') {
      await writeOut(`${command.text}\n`);
      return EXIT_SUCCEEDED;
    }
    if (command.kind === 'version') {
      await writeOut(`nes-run ${version()} (node ${process.versions.node})\n`);
      return EXIT_SUCCEEDED;
    }
    const options = command.options;
    if (options.resultsFile !== undefined) facts.resultsFile = options.resultsFile;
    const params = collectParameters({
      inputPath: options.input,
      outputPath: options.output ?? '',
      injectInputPath: options.injectInputPath,
      injectOutputPath: options.injectOutputPath,
      base64: options.parameterBase64,
      files: options.parameterFiles,
      yaml: options.parameterYaml,
      guessed: options.guessed,
      raw: options.raw,
    });
    secrets.push(...secretValues(params));
    if (options.jupyterToken) secrets.push(options.jupyterToken);
    handed = true;
    return await runNotebook(options, params, secrets, facts, earlyFromBin);
  } catch (err) {
    facts.message = err instanceof CliError ? err.message : String((err as Error)?.message ?? err);
    if (err instanceof CliError) {
      process.stderr.write(`nes-run: error: ${redactText(err.message, secrets)}\n`);
      if (err.exitCode === 2) process.stderr.write("Try 'nes-run --help' for help.\n");
      return err.exitCode;
    }
    process.stderr.write(
      `nes-run: internal error: ${redactText(String((err as Error)?.stack ?? err), secrets)}\n`,
    );
    return EXIT_INFRA;
  } finally {
    // A server the bin started on a guess, for a command line that turned out not to run.
    if (!handed) await earlyFromBin?.stop();
  }
}
