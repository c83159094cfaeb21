/**
 * What a container sees, mapped onto this machine: its environment (values, `$(VAR)`
 * references, secretKeyRef/configMapKeyRef/fieldRef, envFrom; a missing Secret or key is the
 * kubelet's CreateContainerConfigError) and its file system paths (emptyDir, Secret and
 * ConfigMap volumes and the termination message file live in a per-pod directory; any env value
 * or argument that starts with a mount path is rewritten to the local directory).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { KubeObject } from './selectors.ts';
import type { ObjectStore } from './store.ts';

/** A Secret, ConfigMap or key the container needs is missing (kubelet's message). */
export class ContainerConfigError extends Error {}

function secretData(
  store: ObjectStore,
  namespace: string,
  name: string,
): Record<string, string> | undefined {
  const secret = store.get('Secret', namespace, name);
  if (!secret) return undefined;
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(
    (secret.data as Record<string, string> | undefined) ?? {},
  )) {
    data[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  for (const [key, value] of Object.entries(
    (secret.stringData as Record<string, string> | undefined) ?? {},
  )) {
    data[key] = value;
  }
  return data;
}

function configMapData(
  store: ObjectStore,
  namespace: string,
  name: string,
): Record<string, string> | undefined {
  const configMap = store.get('ConfigMap', namespace, name);
  if (!configMap) return undefined;
  return { ...((configMap.data as Record<string, string> | undefined) ?? {}) };
}

/** Expands `$(NAME)` from earlier variables; `$$(NAME)` escapes, unknown names stay as written. */
function expand(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)/g,
    (match, name: string | undefined) =>
      match === '$$' ? '$' : name !== undefined && name in env ? (env[name] as string) : match,
  );
}

/** The container's environment from its spec, as the kubelet builds it. */
export function containerEnv(
  store: ObjectStore,
  pod: V1Pod,
  container: V1Container,
): Record<string, string> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    if (source.secretRef) {
      const data = secretData(store, namespace, source.secretRef.name ?? '');
      if (!data) {
        if (source.secretRef.optional) continue;
        throw new ContainerConfigError(`secret "${source.secretRef.name}" not found`);
      }
      for (const [key, value] of Object.entries(data)) env[`${prefix}${key}`] = value;
    }
    if (source.configMapRef) {
      const data = configMapData(store, namespace, source.configMapRef.name ?? '');
      if (!data) {
        if (source.configMapRef.optional) continue;
        throw new ContainerConfigError(`configmap "${source.configMapRef.name}" not found`);
      }
      for (const [key, value] of Object.entries(data)) env[`${prefix}${key}`] = value;
    }
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      env[variable.name] = expand(variable.value ?? '', env);
      continue;
    }
    if (from.secretKeyRef) {
      const { name = '', key, optional } = from.secretKeyRef;
      const data = secretData(store, namespace, name);
      if (!data) {
        if (optional) continue;
        throw new ContainerConfigError(`secret "${name}" not found`);
      }
      if (!(key in data)) {
        if (optional) continue;
        throw new ContainerConfigError(`couldn't find key ${key} in Secret ${namespace}/${name}`);
      }
      env[variable.name] = data[key] as string;
    } else if (from.configMapKeyRef) {
      const { name = '', key, optional } = from.configMapKeyRef;
      const data = configMapData(store, namespace, name);
      if (!data) {
        if (optional) continue;
        throw new ContainerConfigError(`configmap "${name}" not found`);
      }
      if (!(key in data)) {
        if (optional) continue;
        throw new ContainerConfigError(
          `couldn't find key ${key} in ConfigMap ${namespace}/${name}`,
        );
      }
      env[variable.name] = data[key] as string;
    } else if (from.fieldRef) {
      env[variable.name] = fieldValue(pod as unknown as KubeObject, from.fieldRef.fieldPath);
    } else {
      env[variable.name] = '';
    }
  }
  return env;
}

function fieldValue(pod: KubeObject, path: string): string {
  const labels = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (labels) {
    const map = pod.metadata[labels[1] as string] as Record<string, string> | undefined;
    return map?.[labels[2] as string] ?? '';
  }
  const spec = pod.spec as Record<string, unknown>;
  const status = (pod.status ?? {}) as Record<string, unknown>;
  const values: Record<string, unknown> = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'spec.nodeName': spec.nodeName,
    'spec.serviceAccountName': spec.serviceAccountName,
    'status.podIP': status.podIP,
    'status.hostIP': status.hostIP,
  };
  return String(values[path] ?? '');
}

/** Mount paths of one container mapped to local directories (and the termination file). */
export class PathMap {
  readonly #entries: { path: string; local: string }[] = [];

  add(path: string, local: string): void {
    this.#entries.push({ path: path.replace(/\/+$/, '') || '/', local });
    this.#entries.sort((a, b) => b.path.length - a.path.length);
  }

  /** `value` rewritten when it starts with a mapped path; otherwise unchanged. */
  map(value: string): string {
    for (const { path, local } of this.#entries) {
      if (value === path) return local;
      if (value.startsWith(`${path}/`)) return `${local}${value.slice(path.length)}`;
    }
    return value;
  }

  has(path: string): boolean {
    return this.#entries.some((entry) => entry.path === path);
  }
}

/**
 * Creates the pod's volume directories (once per pod) and the container's termination file,
 * and returns the container's path map and the local termination message file.
 */
export function prepareFiles(
  store: ObjectStore,
  pod: V1Pod,
  container: V1Container,
  podDir: string,
): { paths: PathMap; terminationFile: string } {
  const namespace = pod.metadata?.namespace ?? 'default';
  const paths = new PathMap();
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.spec?.volumes?.find((candidate) => candidate.name === mount.name);
    const local = join(podDir, 'volumes', mount.name);
    mkdirSync(local, { recursive: true });
    const files = volume?.secret
      ? secretData(store, namespace, volume.secret.secretName ?? '')
      : volume?.configMap
        ? configMapData(store, namespace, volume.configMap.name ?? '')
        : undefined;
    if ((volume?.secret || volume?.configMap) && !files) {
      const optional = volume.secret?.optional ?? volume.configMap?.optional;
      if (!optional) {
        throw new ContainerConfigError(
          volume.secret
            ? `secret "${volume.secret.secretName}" not found`
            : `configmap "${volume.configMap?.name}" not found`,
        );
      }
    }
    for (const [key, value] of Object.entries(files ?? {})) writeFileSync(join(local, key), value);
    const target = mount.subPath ? join(local, mount.subPath) : local;
    if (mount.subPath) mkdirSync(target, { recursive: true });
    paths.add(mount.mountPath, target);
  }
  const containerDir = join(podDir, 'containers', container.name);
  mkdirSync(containerDir, { recursive: true });
  const terminationFile = join(containerDir, 'termination-log');
  writeFileSync(terminationFile, '');
  paths.add(container.terminationMessagePath ?? '/dev/termination-log', terminationFile);
  return { paths, terminationFile };
}
