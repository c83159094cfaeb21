/**
 * nes-run's check of the kernel name against the installed kernelspecs (../kernelspecs.ts),
 * before anything starts: an unknown --kernel is a usage error listing the kernels there are.
 */
import { kernelSpecName } from '../kernel-names.ts';
import { availableKernels } from '../kernelspecs.ts';
import { usageError } from './cli-error.ts';

/** A usage error before anything starts when no kernelspec of that name is installed. */
export function checkKernel(kernelName: string | undefined): void {
  if (!kernelName) {
    throw usageError('the notebook names no kernel (metadata.kernelspec.name): pass -k/--kernel');
  }
  const kernels = availableKernels();
  const specName = kernelSpecName(kernelName);
  if (kernels.length > 0 && !kernels.includes(specName.toLowerCase())) {
    throw usageError(`no such kernel: ${kernelName}; available kernels: ${kernels.join(', ')}`);
  }
}
