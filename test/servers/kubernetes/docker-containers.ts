/**
 * Containers as a real container runtime runs them: with this as the kubelet's `resolveCommand`,
 * each container becomes `docker run` of its image with the restrictions its pod spec asks for
 * (the user, a read-only root, dropped capabilities, no privilege escalation, the memory limit),
 * emptyDirs as tmpfs, the termination message file bound at its path, persistentVolumeClaims
 * bound to host directories the test names, and its environment passed by name (values never on
 * a command line). The kubelet still owns the pod's life: its SIGTERM reaches the container
 * through `docker run`'s signal proxy, and the exit code is the container's.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container, V1Pod, V1SecurityContext } from '@kubernetes/client-node';
import type { ContainerContext, ResolvedCommand } from './kubelet.ts';

export interface DockerContainersOptions {
  /** persistentVolumeClaim name -> the host directory that backs it. */
  claims: Record<string, string>;
  /** A label on every container started, so a test can remove what is left (`docker rm -f`). */
  label: string;
  /** Extra host directories bound read-only at the same path (notebooks a test submits). */
  readOnlyBinds?: string[];
}

export function dockerContainers(options: DockerContainersOptions) {
  return (pod: V1Pod, container: V1Container, context: ContainerContext): ResolvedCommand => {
    const podSecurity = pod.spec?.securityContext ?? {};
    const security: V1SecurityContext = container.securityContext ?? {};
    const args = [
      'run',
      '--rm',
      '--pull',
      'never',
      '--name',
      `${pod.metadata?.name}-${container.name}`.slice(0, 120),
      '--label',
      options.label,
      '--network',
      'host',
      '--hostname',
      pod.metadata?.name ?? 'pod',
    ];
    const user = security.runAsUser ?? podSecurity.runAsUser;
    const group = security.runAsGroup ?? podSecurity.runAsGroup;
    if (user !== undefined)
      args.push('--user', group !== undefined ? `${user}:${group}` : `${user}`);
    if (podSecurity.fsGroup !== undefined) args.push('--group-add', String(podSecurity.fsGroup));
    if (security.readOnlyRootFilesystem) args.push('--read-only');
    if (security.allowPrivilegeEscalation === false) {
      args.push('--security-opt', 'no-new-privileges');
    }
    for (const cap of security.capabilities?.drop ?? []) args.push('--cap-drop', cap);
    for (const cap of security.capabilities?.add ?? []) args.push('--cap-add', cap);
    const memory = container.resources?.limits?.memory;
    if (memory)
      args.push(
        '--memory',
        dockerQuantity(String(memory)),
        '--memory-swap',
        dockerQuantity(String(memory)),
      );
    const cpu = container.resources?.limits?.cpu;
    if (cpu) args.push('--cpus', String(cpuCount(String(cpu))));

    for (const mount of container.volumeMounts ?? []) {
      const volume = pod.spec?.volumes?.find((v) => v.name === mount.name);
      const readOnly = mount.readOnly ? ',readonly' : '';
      if (volume?.emptyDir) {
        // uid/gid: the directory belongs to the pod's user, as the kubelet's fsGroup makes it.
        const owner =
          user !== undefined ? `,uid=${user},gid=${podSecurity.fsGroup ?? group ?? user}` : '';
        args.push('--tmpfs', `${mount.mountPath}:rw,exec,mode=1777${owner}`);
      } else if (volume?.persistentVolumeClaim) {
        const host = options.claims[volume.persistentVolumeClaim.claimName];
        if (!host)
          throw new Error(`no host directory for claim ${volume.persistentVolumeClaim.claimName}`);
        const source = mount.subPath ? join(host, mount.subPath) : host;
        args.push('--mount', `type=bind,source=${source},target=${mount.mountPath}${readOnly}`);
      } else {
        const source = context.hostPathOf(mount.mountPath);
        if (!source) throw new Error(`volume ${mount.name}: not prepared by the kubelet`);
        args.push('--mount', `type=bind,source=${source},target=${mount.mountPath},readonly`);
      }
    }
    for (const path of options.readOnlyBinds ?? []) {
      args.push('--mount', `type=bind,source=${path},target=${path},readonly`);
    }
    // The container's user writes it (the kubelet creates it for the container the same way).
    writeFileSync(context.terminationFile, '', { flag: 'a' });
    chmodSync(context.terminationFile, 0o666);
    const messagePath = container.terminationMessagePath ?? '/dev/termination-log';
    args.push('--mount', `type=bind,source=${context.terminationFile},target=${messagePath}`);
    for (const name of Object.keys(context.env)) args.push('--env', name);
    if (container.workingDir) args.push('--workdir', container.workingDir);
    const [entrypoint, ...rest] = container.command ?? [];
    if (entrypoint) args.push('--entrypoint', entrypoint);
    args.push(container.image ?? '', ...rest, ...(container.args ?? []));
    return { command: 'docker', args, env: context.env };
  };
}

/** Kubernetes memory quantities as `docker --memory` takes them (bytes). */
function dockerQuantity(quantity: string): string {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!match) return quantity;
  const factor: Record<string, number> = {
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return String(Math.round(Number(match[1]) * (factor[match[2] ?? ''] ?? 1)));
}

function cpuCount(quantity: string): number {
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}
