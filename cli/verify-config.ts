import { readFile } from 'node:fs/promises'
import {
  PublicKeySchema,
  parseContentCid,
  parseRequestBinding,
  RequestIdSchema,
} from '../protocol/index.ts'
import { SiteConfigSchema } from '../static-site/src/config.ts'
import type { VerifyEndpoints } from '../verify/from-endpoints.ts'
import type { VerifyTarget } from '../verify/index.ts'

/** Stable codes of the CLI's own failures (all exit 2: nothing was verified). */
export const CliErrorCode = {
  /** A flag or argument is missing or malformed (a CID, an address, a job id). */
  BAD_INPUT: 'BAD_INPUT',
  /** The config file cannot be read or does not have the page's config.json shape. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** A Mina node, archive or every gateway did not answer at all. */
  ENDPOINT_UNREACHABLE: 'ENDPOINT_UNREACHABLE',
} as const

/** One of the CLI's stable error codes. */
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode]

/** A failure before any link was checked: bad usage, a bad config, an endpoint that is down. */
export class CliError extends Error {
  override readonly name = 'CliError'
  constructor(
    readonly code: CliErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/** The flags of `zkrunner verify`, as commander hands them over (all strings, unvalidated). */
export interface VerifyFlags {
  service?: string
  job?: string
  request?: string
  config?: string
  graphql?: string
  archive?: string
  gateway?: string[]
  creditTokenId?: string
  genuineCode?: string
  registry?: string
}

/**
 * What the CLI reads, validated once: the page's config.json fields it needs. The page's schema
 * itself (strict, so a misspelt key in a config file is named), with only these fields required.
 */
const EndpointsSchema = SiteConfigSchema.partial().required({
  minaGraphqlUrl: true,
  archiveUrl: true,
  gateways: true,
  creditTokenId: true,
  genuineCode: true,
})

/** Which flag sets each config field, for the message when it is missing. */
const FLAG_OF: Record<string, string> = {
  minaGraphqlUrl: '--graphql <url>',
  archiveUrl: '--archive <url>',
  gateways: '--gateway <url>',
  creditTokenId: '--credit-token-id <id>',
  genuineCode: '--genuine-code <json>',
}

const why = (e: unknown) => (e instanceof Error ? e.message : String(e))

async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    throw new CliError(CliErrorCode.CONFIG_INVALID, `cannot read ${what} ${path}: ${why(e)}`)
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new CliError(CliErrorCode.CONFIG_INVALID, `${what} ${path} is not JSON`)
  }
}

/** The endpoints from `--config` (the page's config.json shape) with flags taking precedence. */
export async function resolveEndpoints(flags: VerifyFlags): Promise<VerifyEndpoints> {
  const file = flags.config ? await readJsonFile(flags.config, 'config file') : {}
  if (typeof file !== 'object' || file === null || Array.isArray(file))
    throw new CliError(CliErrorCode.CONFIG_INVALID, `config file ${flags.config} is not an object`)
  let genuineCode: unknown
  if (flags.genuineCode !== undefined) {
    try {
      genuineCode = JSON.parse(flags.genuineCode)
    } catch {
      throw new CliError(CliErrorCode.BAD_INPUT, '--genuine-code: not JSON')
    }
  }
  const merged = {
    ...file,
    ...(flags.graphql !== undefined ? { minaGraphqlUrl: flags.graphql } : {}),
    ...(flags.archive !== undefined ? { archiveUrl: flags.archive } : {}),
    ...(flags.gateway?.length ? { gateways: flags.gateway } : {}),
    ...(flags.creditTokenId !== undefined ? { creditTokenId: flags.creditTokenId } : {}),
    ...(genuineCode !== undefined ? { genuineCode } : {}),
    ...(flags.registry !== undefined ? { registryAddress: flags.registry } : {}),
  }
  const parsed = EndpointsSchema.safeParse(merged)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const key = String(issue?.path[0] ?? '')
    const missing = issue?.code === 'invalid_type' && !(key in merged)
    const message = missing
      ? `${key} is missing: give ${FLAG_OF[key] ?? key} or --config <page config.json>`
      : `${issue?.path.join('.') || 'config'}: ${issue?.message ?? 'invalid'}`
    throw new CliError(
      flags.config ? CliErrorCode.CONFIG_INVALID : CliErrorCode.BAD_INPUT,
      flags.config && !missing ? `config ${flags.config}: ${message}` : message,
    )
  }
  const c = parsed.data
  return {
    minaGraphqlUrl: c.minaGraphqlUrl,
    archiveUrl: c.archiveUrl,
    gateways: c.gateways,
    genuine: { creditTokenId: c.creditTokenId, code: c.genuineCode },
    // A private service's reveal is listed there; without it its source stays "committed".
    ...(c.registryAddress !== undefined ? { registryAddress: c.registryAddress } : {}),
  }
}

/** The bundle, service and (optionally) job or request to verify, each checked before any read. */
export async function resolveTarget(bundleCid: string, flags: VerifyFlags): Promise<VerifyTarget> {
  const cid = parseContentCid(bundleCid)
  if (!cid.ok)
    throw new CliError(
      CliErrorCode.BAD_INPUT,
      `bundle CID ${bundleCid.slice(0, 100)}: ${cid.error.message}`,
    )
  if (flags.service === undefined)
    throw new CliError(CliErrorCode.BAD_INPUT, '--service <address> is required')
  const service = PublicKeySchema.safeParse(flags.service)
  if (!service.success)
    throw new CliError(
      CliErrorCode.BAD_INPUT,
      `--service ${flags.service.slice(0, 100)}: not a Mina public key (${service.error.issues[0]?.message})`,
    )
  const target: VerifyTarget = { bundleCid, service: service.data }
  if (flags.job !== undefined) {
    const job = RequestIdSchema.safeParse(flags.job)
    if (!job.success)
      throw new CliError(
        CliErrorCode.BAD_INPUT,
        `--job ${flags.job.slice(0, 100)}: ${job.error.issues[0]?.message}`,
      )
    target.jobId = job.data
  }
  if (flags.request !== undefined) {
    const parsed = parseRequestBinding(await readJsonFile(flags.request, 'request file'))
    if (!parsed.ok)
      throw new CliError(
        CliErrorCode.BAD_INPUT,
        `--request ${flags.request}: ${parsed.error.message}`,
      )
    const request = parsed.value
    if (request.service !== target.service)
      throw new CliError(
        CliErrorCode.BAD_INPUT,
        `--request is for service ${request.service}, not --service ${target.service}`,
      )
    if (target.jobId !== undefined && target.jobId !== request.requestId)
      throw new CliError(
        CliErrorCode.BAD_INPUT,
        `--request is for job ${request.requestId}, not --job ${target.jobId}`,
      )
    target.request = request
  }
  return target
}
