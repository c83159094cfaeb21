/**
 * Kernel names as Jupyter resolves them, with no dependency (the CLI's early start and the API
 * load this without the kernel session's client library).
 */

/**
 * The kernel every NES runner offers (the runner image's and the project environment's): the
 * kernel list a Kubernetes installation advertises when its settings name none, and the kernel
 * the local executor keeps warm.
 */
export const DEFAULT_KERNEL = 'python3';

/**
 * The kernelspec a kernel name starts: jupyter_client's KernelManager turns `python` into its
 * native kernel, `python3` (papermill's own test notebooks name `python`).
 */
export function kernelSpecName(name: string): string {
  return name === 'python' ? DEFAULT_KERNEL : name;
}
