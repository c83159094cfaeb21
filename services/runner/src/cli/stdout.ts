/** nes-run's stdout writes (help, the notebook with OUTPUT `-`), resolved once flushed. */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
