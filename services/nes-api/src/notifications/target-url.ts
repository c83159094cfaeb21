/**
 * Where notifications may go. A subscription's URL is user input and the service posts to it
 * from inside the cluster: without a check it would reach loopback services, cloud metadata
 * (169.254.169.254) and the private network. The check is @nes/sources' address guard, the one
 * notebook URLs go through: literal addresses at creation, and every connection's resolved
 * address at delivery (so DNS rebinding does not get around it). Internal receivers are allowed
 * with NES_NOTIFY_ALLOWED_HOSTS (host names, IPs, CIDR ranges).
 */
import {
  type AllowList,
  checkUrlHost,
  guardedFetch,
  isSourceError,
  parseAllowList,
} from '@nes/sources';

export interface TargetPolicy {
  allowText: string;
  allow: AllowList;
  fetch: typeof fetch;
}

export function targetPolicy(allowedHosts: string | undefined): TargetPolicy {
  const allowText = allowedHosts ?? '';
  const allow = parseAllowList(allowText);
  return { allowText, allow, fetch: guardedFetch(allowText, allow) };
}

/** Why `url` cannot be a notification target, or null when it can (up to its DNS answers). */
export function targetProblem(url: string, policy: TargetPolicy): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${JSON.stringify(url)} is not a URL`;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return `${parsed.protocol} URLs cannot receive notifications: use https://`;
  }
  if (parsed.username || parsed.password) {
    return 'the URL must not carry a user name or password';
  }
  try {
    checkUrlHost(parsed, policy.allow);
  } catch (error) {
    if (isSourceError(error)) return refusal(parsed.hostname, error.details);
    throw error;
  }
  return null;
}

/** The address guard's refusal, said for notifications. */
export function refusal(host: string, details: unknown): string {
  const range = (details as { range?: string } | undefined)?.range ?? 'non-public';
  const address = (details as { address?: string } | undefined)?.address ?? host;
  const what = address === host ? host : `${host} (${address})`;
  return `${what} is a ${range} address; NES delivers notifications only to public addresses (allow an internal receiver with NES_NOTIFY_ALLOWED_HOSTS)`;
}
