import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { z } from 'zod'
import { generateHpkeKeyPair, generateMinaKeyPair, newSalt } from '../protocol/index.ts'

/** Every key and secret the local stack makes for itself: dev only, kept in the data dir (mode 0600). */
export const StackSecretsSchema = z.strictObject({
  v: z.literal(1),
  /** The Worker's HPKE private key (base64url). */
  hpkePrivateKey: z.string(),
  webhookSecret: z.string().min(16),
  /** The GitLab stand-in's pipeline trigger token for the sample project. */
  triggerToken: z.string(),
  /** A read-only API token, sealed beside the trigger token so the Worker can reconcile. */
  apiToken: z.string(),
  /** The GitHub stand-in's fine-grained token (Actions: write) for the sample repository. */
  githubToken: z.string(),
  /** The read token of the stack's GitHub signer (Actions: read): it checks where each job runs. */
  githubReadToken: z.string(),
  /** The GitHub service's own webhook secret (the HMAC key of X-Hub-Signature-256). */
  githubWebhookSecret: z.string().min(16),
  /** The salt of the private sample's source commitment: secret until it is revealed. */
  privateSalt: z.string(),
  tokenKey: z.string(),
  tokenAdminContractKey: z.string(),
  tokenAdminKey: z.string(),
  registryKey: z.string(),
})
/** The local stack's own keys and secrets. */
export type StackSecrets = z.infer<typeof StackSecretsSchema>

const token = (prefix: string) => `${prefix}${randomBytes(20).toString('hex')}`

const githubSecrets = () => ({
  githubToken: token('github_pat_'),
  githubWebhookSecret: token('ghwhsec-'),
  githubReadToken: token('github_pat_'),
})

async function create(): Promise<StackSecrets> {
  const mina = () => generateMinaKeyPair().privateKey
  return {
    v: 1,
    hpkePrivateKey: (await generateHpkeKeyPair()).privateKey,
    webhookSecret: token('whsec-'),
    triggerToken: token('glptt-'),
    apiToken: token('glpat-'),
    ...githubSecrets(),
    privateSalt: newSalt(),
    tokenKey: mina(),
    tokenAdminContractKey: mina(),
    tokenAdminKey: mina(),
    registryKey: mina(),
  }
}

/** Loads the stack's secrets, creating them on the first start. */
export async function loadOrCreateSecrets(path: string): Promise<StackSecrets> {
  try {
    const saved = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
    // A data dir from before the GitHub service (or its signer) or the private service gets what
    // it lacks, the rest kept.
    const added = { ...githubSecrets(), privateSalt: newSalt() }
    const missing = Object.fromEntries(
      Object.entries(added).filter(([k]) => saved[k] === undefined),
    )
    if (Object.keys(missing).length > 0) {
      const secrets = StackSecretsSchema.parse({ ...saved, ...missing })
      await save(path, secrets)
      return secrets
    }
    return StackSecretsSchema.parse(saved)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Error(`${path} is unreadable: ${(e as Error).message}; delete it to start afresh`)
  }
  const secrets = await create()
  await save(path, secrets)
  return secrets
}

async function save(path: string, secrets: StackSecrets): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(`${path}.tmp`, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 })
  await rename(`${path}.tmp`, path)
}
