/**
 * Pod Security admission's "restricted" and "baseline" levels (v1.28, policy version latest), as
 * kube-apiserver applies them from a namespace's `pod-security.kubernetes.io/{enforce,warn}`
 * labels: a pod that violates the enforced level is refused (403 Forbidden), a pod or a workload
 * carrying a pod template (Job, PodTemplate, Deployment) gets `Warning` headers. The checks and
 * their wording follow k8s.io/pod-security-admission/policy; only the ones a pod spec written for
 * NES can trip are modelled (no AppArmor, SELinux, sysctls or /proc mount type).
 */
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';

export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

const LEVELS: PodSecurityLevel[] = ['privileged', 'baseline', 'restricted'];
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);
const RESTRICTED_VOLUMES = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
];

export function namespaceLevels(labels: Record<string, string> | undefined): {
  enforce: PodSecurityLevel;
  warn: PodSecurityLevel;
} {
  const level = (mode: string): PodSecurityLevel => {
    const value = labels?.[`pod-security.kubernetes.io/${mode}`];
    return LEVELS.includes(value as PodSecurityLevel) ? (value as PodSecurityLevel) : 'privileged';
  };
  return { enforce: level('enforce'), warn: level('warn') };
}

const quote = (names: string[]) => names.map((n) => `"${n}"`).join(', ');
const containersOf = (spec: V1PodSpec): V1Container[] => [
  ...(spec.initContainers ?? []),
  ...(spec.containers ?? []),
];
const subject = (names: string[]) =>
  names.length === 1 ? `container ${quote(names)}` : `containers ${quote(names)}`;

/** The violations of `level` in one pod spec, each "check (detail)" as the real messages read. */
export function podSecurityViolations(spec: V1PodSpec, level: PodSecurityLevel): string[] {
  if (level === 'privileged') return [];
  const out: string[] = [];
  const containers = containersOf(spec);
  // baseline
  const host = (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((f) => spec[f] === true);
  if (host.length) out.push(`host namespaces (${host.map((f) => `${f}=true`).join(', ')})`);
  const privileged = containers.filter((c) => c.securityContext?.privileged === true);
  if (privileged.length) {
    out.push(
      `privileged (${subject(privileged.map((c) => c.name))} must not set securityContext.privileged=true)`,
    );
  }
  const hostPath = (spec.volumes ?? []).filter((v) => v.hostPath).map((v) => v.name);
  if (hostPath.length)
    out.push(`hostPath volumes (volume${hostPath.length > 1 ? 's' : ''} ${quote(hostPath)})`);
  const hostPorts = containers.filter((c) => (c.ports ?? []).some((p) => p.hostPort));
  if (hostPorts.length) {
    out.push(`hostPort (${subject(hostPorts.map((c) => c.name))} uses hostPort)`);
  }
  const added = containers.filter((c) =>
    (c.securityContext?.capabilities?.add ?? []).some((cap) => !BASELINE_CAPABILITIES.has(cap)),
  );
  if (added.length) {
    out.push(
      `non-default capabilities (${subject(added.map((c) => c.name))} must not include capabilities beyond the baseline set)`,
    );
  }
  const unconfined = (type: string | undefined) => type === 'Unconfined';
  if (
    unconfined(spec.securityContext?.seccompProfile?.type) ||
    containers.some((c) => unconfined(c.securityContext?.seccompProfile?.type))
  ) {
    out.push('seccompProfile (seccompProfile.type must not be "Unconfined")');
  }
  if (level === 'baseline') return out;
  // restricted
  const volumes = (spec.volumes ?? []).filter(
    (v) =>
      !v.hostPath &&
      !RESTRICTED_VOLUMES.some(
        (type) => (v as unknown as Record<string, unknown>)[type] !== undefined,
      ),
  );
  if (volumes.length)
    out.push(
      `restricted volume types (volumes ${quote(volumes.map((v) => v.name))} use a restricted volume type)`,
    );
  const escalation = containers.filter(
    (c) => c.securityContext?.allowPrivilegeEscalation !== false,
  );
  if (escalation.length) {
    out.push(
      `allowPrivilegeEscalation != false (${subject(escalation.map((c) => c.name))} must set securityContext.allowPrivilegeEscalation=false)`,
    );
  }
  const capabilities = containers.filter(
    (c) =>
      !(c.securityContext?.capabilities?.drop ?? []).includes('ALL') ||
      (c.securityContext?.capabilities?.add ?? []).some((cap) => cap !== 'NET_BIND_SERVICE'),
  );
  if (capabilities.length) {
    out.push(
      `unrestricted capabilities (${subject(capabilities.map((c) => c.name))} must set securityContext.capabilities.drop=["ALL"])`,
    );
  }
  const podNonRoot = spec.securityContext?.runAsNonRoot === true;
  const rootish = containers.filter(
    (c) =>
      c.securityContext?.runAsNonRoot === false ||
      (!podNonRoot && c.securityContext?.runAsNonRoot !== true),
  );
  if (spec.securityContext?.runAsNonRoot === false || rootish.length) {
    out.push(
      `runAsNonRoot != true (pod or ${subject(rootish.map((c) => c.name))} must set securityContext.runAsNonRoot=true)`,
    );
  }
  const root = containers.filter((c) => c.securityContext?.runAsUser === 0);
  if (spec.securityContext?.runAsUser === 0 || root.length) {
    out.push(`runAsUser=0 (pod and containers must not set runAsUser=0)`);
  }
  const seccomp = (type: string | undefined) => type === 'RuntimeDefault' || type === 'Localhost';
  const podSeccomp = seccomp(spec.securityContext?.seccompProfile?.type);
  const noSeccomp = containers.filter(
    (c) => !seccomp(c.securityContext?.seccompProfile?.type) && !podSeccomp,
  );
  if (noSeccomp.length) {
    out.push(
      `seccompProfile (pod or ${subject(noSeccomp.map((c) => c.name))} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
    );
  }
  return out;
}

/** `would violate PodSecurity "restricted:latest": a, b` (the Warning header's text). */
export function podSecurityMessage(level: PodSecurityLevel, violations: string[]): string {
  return `PodSecurity "${level}:latest": ${violations.join(', ')}`;
}
