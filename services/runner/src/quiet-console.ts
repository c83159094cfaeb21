/**
 * @jupyterlab/services reports connection chatter through console.debug, which Node prints on
 * stdout, where the nes-run CLI may be writing JSON. While runs are active, console.debug is
 * silenced (NES_DEBUG=1 sends it to stderr instead).
 */
let active = 0;
let original: typeof console.debug | null = null;

export function quietServicesDebug(): () => void {
  if (active === 0) {
    original = console.debug;
    console.debug = process.env.NES_DEBUG
      ? (...args: unknown[]) => console.error(...args)
      : () => undefined;
  }
  active += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    active -= 1;
    if (active === 0 && original) {
      console.debug = original;
      original = null;
    }
  };
}
