/**
 * Plain HTTP against a Consul agent (or the emulator) for this package's testing tools: the
 * agent address of a lockstep URL, recursive KV deletion and the agent's version.
 * @module
 */

/** `consul://host:port?…` → `http://host:port` (`https` when the URL asks for it). */
export function agentOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.searchParams.get('https') === 'true' ? 'https' : 'http'}://${parsed.host}`;
}

/** Deletes every KV entry under `prefix` (`DELETE /v1/kv/<prefix>?recurse`). */
export async function deleteTree(agent: string, prefix: string): Promise<void> {
  const path = prefix.split('/').map(encodeURIComponent).join('/');
  const response = await fetch(`${agent}/v1/kv/${path}?recurse=true`, { method: 'DELETE' });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`deleting ${prefix}: HTTP ${response.status} ${text}`);
}

/**
 * `Consul 1.20.1`, from `/v1/agent/self`; the emulator answers a version that says it is one,
 * and that answer is kept as it is.
 */
export async function consulVersion(url: string): Promise<string> {
  const response = await fetch(`${agentOf(url)}/v1/agent/self`);
  const body = (await response.json()) as { Config?: { Version?: string } };
  const version = body.Config?.Version ?? 'unknown';
  return /emulator/i.test(version) ? version : `Consul ${version}`;
}
