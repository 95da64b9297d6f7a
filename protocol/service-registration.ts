import { z } from 'zod'
import { sha256 } from './digest.ts'
import { canonicalBytes } from './encoding.ts'
import { EnvelopeSchema } from './envelope.ts'
import { fail, ok, type Result } from './errors.ts'
import { registrationMessage } from './messages.ts'
import { parseWith } from './parse.ts'
import { CidSchema, PublicKeySchema, SignatureSchema } from './primitives.ts'
import {
  isPrivateService,
  type PublicServiceDescriptor,
  type ServiceDescriptor,
  ServiceDescriptorSchema,
} from './service-descriptor.ts'
import { signFields, verifyFields } from './signature.ts'
import { opensCommitment, SourceOpeningSchema } from './source-commitment.ts'

/**
 * Where a private service's job runs, with the opening of its source commitment: sealed to the
 * Worker with the credentials, never in the descriptor. The Worker triggers from these and checks
 * at registration that they open the frozen commitment (salt, provider URL, project, commit).
 */
export const PrivateCoordinatesSchema = z.strictObject({
  providerUrl: SourceOpeningSchema.shape.providerUrl,
  project: SourceOpeningSchema.shape.project,
  ref: z.string().min(1).max(255),
  job: z.string().min(1).max(255),
  workflow: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}\.ya?ml$/)
    .optional(),
  salt: SourceOpeningSchema.shape.salt,
  commit: SourceOpeningSchema.shape.commit,
})
/** A private service's sealed coordinates and commitment opening. */
export type PrivateCoordinates = z.infer<typeof PrivateCoordinatesSchema>

/** Reads the private coordinates out of opened credentials, or null when they carry none. */
export function sealedCoordinates(opened: unknown): PrivateCoordinates | null {
  if (typeof opened !== 'object' || opened === null || !('coordinates' in opened)) return null
  const parsed = PrivateCoordinatesSchema.safeParse(opened.coordinates)
  return parsed.success ? parsed.data : null
}

/**
 * Where a registered service's job runs: a public descriptor as it is; a private one completed by
 * its sealed coordinates, which must open its commitment (so the Worker triggers exactly the
 * version users pay for). Public services carry no sealed coordinates. Messages name no value.
 */
export function resolveRunsOn(
  descriptor: ServiceDescriptor,
  coordinates: PrivateCoordinates | null,
): Result<PublicServiceDescriptor> {
  if (!isPrivateService(descriptor)) {
    return coordinates === null
      ? ok(descriptor)
      : fail('INVALID_FIELD', 'a public service seals no coordinates', ['triggerToken'])
  }
  if (coordinates === null)
    return fail('MISSING_FIELD', 'a private service seals its coordinates', ['triggerToken'])
  const { salt, commit, ...where } = coordinates
  if (
    !opensCommitment(
      { salt, commit, providerUrl: where.providerUrl, project: where.project },
      descriptor.sourceCommitment,
    )
  )
    return fail(
      'WRONG_OPENING',
      'the sealed coordinates do not open the service’s source commitment',
      ['triggerToken'],
    )
  if ((descriptor.provider === 'github') !== (where.workflow !== undefined))
    return fail('INVALID_FIELD', 'a GitHub service (only) seals its workflow file', [
      'triggerToken',
    ])
  const { visibility: _private, ...rest } = descriptor
  return ok({ ...rest, ...where })
}

/**
 * What an operator seals to the Worker (TRIGGER_TOKEN_INFO) in a registration: the trigger token,
 * optionally a read-only API token (`read_api`) to reconcile an ambiguous trigger, and the secret
 * this service's GitLab webhook sends as X-Gitlab-Token. The webhook secret is per service: one
 * operator's secret must not move another operator's jobs. A bare string is a trigger token alone
 * (older registrations): such a service accepts no webhooks.
 */
export const SealedGitlabCredentialsSchema = z.union([
  z.string().min(1).max(512),
  z.strictObject({
    v: z.literal(1),
    triggerToken: z.string().min(1).max(512),
    apiToken: z.string().min(1).max(512).optional(),
    webhookSecret: z.string().min(16).max(256).optional(),
    coordinates: PrivateCoordinatesSchema.optional(),
  }),
])
/** The credentials sealed in a registration. */
export type SealedGitlabCredentials = z.infer<typeof SealedGitlabCredentialsSchema>

/**
 * What an operator of a GitHub Actions service seals to the Worker (TRIGGER_TOKEN_INFO): a
 * fine-grained token with Actions: write on the repository (it dispatches the workflow and lists
 * its runs to reconcile), and the secret of this service's webhook, which signs every delivery
 * (`X-Hub-Signature-256`). Per service, like GitLab's: one operator's secret moves no other's jobs.
 */
export const SealedGithubCredentialsSchema = z.strictObject({
  v: z.literal(1),
  provider: z.literal('github'),
  token: z.string().min(1).max(512),
  webhookSecret: z.string().min(16).max(256),
  coordinates: PrivateCoordinatesSchema.optional(),
})
/** The GitHub credentials sealed in a registration. */
export type SealedGithubCredentials = z.infer<typeof SealedGithubCredentialsSchema>

/**
 * An operator's registration of one service version with the Worker (POST /v1/services).
 * The GitLab trigger token travels sealed to the Worker's key and is stored only sealed.
 */
export const ServiceRegistrationSchema = z.strictObject({
  v: z.literal(1),
  /** The service contract's address. */
  service: PublicKeySchema,
  descriptor: ServiceDescriptorSchema,
  /** CID of the descriptor JSON on IPFS, as frozen in the contract. */
  descriptorCid: CidSchema,
  /** SealedGitlabCredentials sealed with TRIGGER_TOKEN_INFO: trigger token, API token, webhook secret. */
  triggerToken: EnvelopeSchema,
  /** Signature of the descriptor's runner key over registrationMessage(sha256(body without signature)). */
  signature: SignatureSchema,
})
/** An operator's registration of one service version. */
export type ServiceRegistration = Omit<z.infer<typeof ServiceRegistrationSchema>, 'descriptor'> & {
  descriptor: ServiceDescriptor
}

/** Validates an untrusted registration (shape only; see verifyServiceRegistration). */
export const parseServiceRegistration = (input: unknown): Result<ServiceRegistration> =>
  parseWith(ServiceRegistrationSchema, input) as Result<ServiceRegistration>

const digestOf = (r: Omit<ServiceRegistration, 'signature'>) => {
  const { signature: _ignored, ...body } = r as ServiceRegistration
  return sha256(canonicalBytes(body))
}

/** Signs a registration with the runner oracle (operator) key named by the descriptor. */
export function signServiceRegistration(
  r: Omit<ServiceRegistration, 'signature'>,
  operatorPrivateKey: string,
): ServiceRegistration {
  return { ...r, signature: signFields(registrationMessage(digestOf(r)), operatorPrivateKey) }
}

/** Checks the registration is signed by the runner key its descriptor names. */
export function verifyServiceRegistration(r: ServiceRegistration): Result<true> {
  const v = verifyFields(
    registrationMessage(digestOf(r)),
    r.signature,
    r.descriptor.runnerPublicKey,
  )
  return v.ok ? v : fail(v.error.code, v.error.message, ['signature'])
}
