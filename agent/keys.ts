import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateMinaKeyPair, type MinaKeyPair, publicKeyOf } from '../protocol/index.ts'
import type { AgentConfig } from './config.ts'
import { AgentError, AgentErrorCode } from './errors.ts'
import { writeDurable } from './spool/spool.ts'

/** File name of the runner key inside the data directory. */
export const KEY_FILE = 'runner-key.json'

/** Loads the runner oracle key from the config, else from `<dataDir>/runner-key.json`. */
export async function loadRunnerKey(
  config: Pick<AgentConfig, 'runnerKey' | 'dataDir'>,
): Promise<MinaKeyPair> {
  let privateKey = config.runnerKey
  if (privateKey === undefined) {
    const file = join(config.dataDir, KEY_FILE)
    try {
      privateKey = (JSON.parse(await readFile(file, 'utf8')) as { privateKey?: string }).privateKey
    } catch {
      throw new AgentError(
        AgentErrorCode.MISSING_KEY,
        `no runner key: set ZKRUNNER_RUNNER_KEY or run \`zkrunner-agent keygen\` (${file})`,
      )
    }
  }
  const pub = privateKey ? publicKeyOf(privateKey) : undefined
  if (!privateKey || !pub?.ok)
    throw new AgentError(AgentErrorCode.MISSING_KEY, 'runner key is not a Mina private key')
  return { publicKey: pub.value, privateKey }
}

/** Creates a runner key in the data directory unless one exists; returns its public key. */
export async function generateRunnerKey(dataDir: string, force = false): Promise<MinaKeyPair> {
  const file = join(dataDir, KEY_FILE)
  if (!force) {
    try {
      return await loadRunnerKey({ dataDir })
    } catch {
      // None yet: create one.
    }
  }
  const { mkdir, chmod } = await import('node:fs/promises')
  await mkdir(dataDir, { recursive: true })
  const pair = generateMinaKeyPair()
  await writeDurable(file, `${JSON.stringify(pair, null, 2)}\n`)
  await chmod(file, 0o600)
  return pair
}
