import { z } from 'zod'
import { sha256 } from './digest.ts'
import { canonicalBytes } from './encoding.ts'
import { EnvelopeSchema } from './envelope.ts'
import { fail, type Result } from './errors.ts'
import { registrationMessage } from './messages.ts'
import { parseWith } from './parse.ts'
import { CidSchema, PublicKeySchema, SignatureSchema } from './primitives.ts'
import { ServiceDescriptorSchema } from './service-descriptor.ts'
import { signFields, verifyFields } from './signature.ts'

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
  /** Token id of the service's deposit receipts (TokenId.derive(service)), base58. */
  receiptTokenId: z
    .string()
    .min(10)
    .max(80)
    .regex(/^[1-9A-HJ-NP-Za-km-z]+$/, 'must be base58'),
  /** SealedGitlabCredentials sealed with TRIGGER_TOKEN_INFO: trigger token, API token, webhook secret. */
  triggerToken: EnvelopeSchema,
  /** Signature of the descriptor's runner key over registrationMessage(sha256(body without signature)). */
  signature: SignatureSchema,
})
/** An operator's registration of one service version. */
export type ServiceRegistration = z.infer<typeof ServiceRegistrationSchema>

/** Validates an untrusted registration (shape only; see verifyServiceRegistration). */
export const parseServiceRegistration = (input: unknown): Result<ServiceRegistration> =>
  parseWith(ServiceRegistrationSchema, input)

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
