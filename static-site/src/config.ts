import { z } from 'zod'
import {
  DEFAULT_MAX_HEARTBEAT_AGE_SLOTS,
  GenuineCodeSchema,
  PublicKeySchema,
} from '../../protocol/index.ts'
import { SiteError, SiteErrorCode } from './errors.ts'

const httpUrl = z.url({ protocol: /^https?$/ })

/** What a deployment of the page talks to: the only place URLs and addresses come from. */
export const SiteConfigSchema = z.strictObject({
  /** Base URL of the edge oracle (job submission and status). */
  workerUrl: httpUrl,
  /** Mina daemon GraphQL endpoint. */
  minaGraphqlUrl: httpUrl,
  /** Archive node GraphQL endpoint (events). */
  archiveUrl: httpUrl,
  /** Trustless IPFS gateways, tried in order; every block is checked against its CID. */
  gateways: z.array(httpUrl).min(1).max(16),
  /** 'devnet' (also the local stack) or 'mainnet' ('testnet' signs as devnet): signatures depend on it. */
  networkId: z.string().min(1).max(32),
  /** The ServiceRegistry contract whose Published events list the market. */
  registryAddress: PublicKeySchema,
  /** The credit token contract. */
  tokenAddress: PublicKeySchema,
  /** Base58 token id of the credit token: services' vaults live under it. */
  creditTokenId: z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{40,60}$/),
  /**
   * What a genuine service is compared with (protocol's GenuineCode): the compiled contracts' key
   * hashes for this credit token and the transaction version. Every other service is unsafe.
   */
  genuineCode: GenuineCodeSchema,
  /** A local-stack private key offered as a clearly labelled dev wallet; never set in production. */
  devKey: z.string().min(40).max(64).optional(),
  /** Base URL of commit links, `{project}` and `{sha}` replaced; defaults to the descriptor's GitLab. */
  commitUrlTemplate: z.string().max(300).optional(),
  /**
   * Local stack only: the chain verifies no proofs (`npm run chain` without `--proofs`), so the
   * page's ledger transactions carry o1js's dummy proofs and nothing is compiled in the browser. A
   * real network refuses them: never set in production.
   */
  dummyProofs: z.boolean().default(false),
  /** How old (in slots) a heartbeat may be before a service counts as down (the Worker's default). */
  maxHeartbeatAgeSlots: z.int().min(1).default(DEFAULT_MAX_HEARTBEAT_AGE_SLOTS),
})
/** The validated page configuration. */
export type SiteConfig = z.infer<typeof SiteConfigSchema>

/** Validates a parsed config.json, naming the first bad field. */
export function parseConfig(input: unknown): SiteConfig {
  const parsed = SiteConfigSchema.safeParse(input)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const where = issue ? issue.path.join('.') : ''
  throw new SiteError(
    SiteErrorCode.CONFIG_INVALID,
    `config.json: ${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}`,
  )
}

/** Loads `config.json` beside the page (any static host serves it), then validates it once. */
export async function loadConfig(
  url = new URL('config.json', document.baseURI),
): Promise<SiteConfig> {
  let res: Response
  try {
    res = await fetch(url, { cache: 'no-store' })
  } catch {
    throw new SiteError(SiteErrorCode.CONFIG_UNREACHABLE, `cannot fetch ${url}`)
  }
  if (!res.ok) throw new SiteError(SiteErrorCode.CONFIG_UNREACHABLE, `${url}: HTTP ${res.status}`)
  let body: unknown
  try {
    body = await res.json()
  } catch {
    throw new SiteError(SiteErrorCode.CONFIG_INVALID, 'config.json is not JSON')
  }
  return parseConfig(body)
}
