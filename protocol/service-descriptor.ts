import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { z } from 'zod'
import { sha256 } from './digest.ts'
import { canonicalBytes } from './encoding.ts'
import type { Result } from './errors.ts'
import { OutputSpecsSchema } from './outputs.ts'
import { ParameterSpecSchema } from './parameters.ts'
import { parseWith } from './parse.ts'
import { HpkePublicKeySchema, PublicKeySchema, Uint64Schema } from './primitives.ts'
import { isPrivateCommitment, SourceCommitmentSchema } from './source-commitment.ts'

/** A GitHub repository as its API names it: `owner/repo`. */
export const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/

/** One version of one CI job offered as a service: published on IPFS, its CID frozen on chain. */
export const ServiceDescriptorSchema = z
  .strictObject({
    // Each field's description is also the generated JSON Schema's (protocol/schemas/), which
    // editors show while an operator writes a descriptor.
    v: z.literal(1).meta({ description: 'Format version: 1.' }),
    name: z.string().min(1).max(120).meta({ description: 'Human name shown in the market.' }),
    description: z
      .string()
      .max(2000)
      .default('')
      .meta({ description: 'What the job does, shown in the market.' }),
    provider: z.enum(['gitlab', 'github']).meta({ description: 'The CI provider.' }),
    visibility: z.enum(['public', 'private']).optional().meta({
      description:
        "'private': the descriptor names no provider URL, project, ref, workflow or job, and sourceCommitment is a hiding commitment (poseidon:…); the Worker reads the coordinates from the sealed registration. Left out: public.",
    }),
    providerUrl: z
      .url({ protocol: /^https?$/ })
      // The JSON Schema's `format: uri` alone would allow any scheme.
      .meta({
        description: 'Base URL of the provider, e.g. https://gitlab.com.',
        pattern: '^https?://',
      })
      .optional(),
    project: z
      .string()
      .min(1)
      .max(255)
      .meta({
        description:
          "Project id or URL-encodable path (`group/project`) as the provider's API takes it. Public services only.",
      })
      .optional(),
    ref: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .meta({ description: 'Branch or tag the pipeline runs on. Public services only.' }),
    workflow: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}\.ya?ml$/, 'must be a workflow file name (e.g. zkrunner.yml)')
      .optional()
      .meta({
        description:
          'GitHub only: the workflow file under .github/workflows/ that runs the job (e.g. zkrunner.yml); it needs a workflow_dispatch trigger and a run-name of `zkrunner ` followed by the ZKRUNNER_JOB_ID input.',
      }),
    job: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .meta({ description: 'Name of the CI job that is the service. Public services only.' }),
    sourceCommitment: SourceCommitmentSchema.meta({
      description:
        'Commit SHA of the pipeline definition: what the user reviewed and pays for. A new commit is a new service version. A private service: poseidon: and the hex of Poseidon(salt, provider URL, project, commit) (protocol/source-commitment.ts).',
    }),
    pricePerJob: Uint64Schema.meta({
      description:
        'Price of one job in credits (token base units), a decimal string. "0" is a free service.',
    }),
    runnerPublicKey: PublicKeySchema.meta({
      description: "The runner oracle's Mina public key (B62…): signs results and heartbeats.",
    }),
    workerPublicKey: HpkePublicKeySchema.meta({
      description:
        "The Worker's HPKE public key (`publicKey` of GET /v1/keys) that requests are sealed to.",
    }),
    parameters: z
      .array(ParameterSpecSchema)
      .max(64)
      .default([])
      .meta({ description: 'Typed parameters a request may set (names unique).' }),
    // Optional, not defaulted: a default would add `"outputs":[]` to the canonical bytes and
    // change the CID of every descriptor written before outputs existed.
    outputs: OutputSpecsSchema.optional().meta({
      description:
        'Typed outputs the job writes (`zkrunner-agent output NAME VALUE`), checked by the runner and signed in the manifest (names unique).',
    }),
    revealGoal: Uint64Schema.optional().meta({
      description:
        'Private services only: the credits this version must earn (paid to its runner through its ledger) before its operator reveals the source. The page shows progress toward it from the chain; a promise, not enforced. A decimal string.',
    }),
  })
  .refine((d) => new Set(d.parameters.map((p) => p.name)).size === d.parameters.length, {
    message: 'parameter names must be unique',
    path: ['parameters'],
  })
  // A public descriptor names where its job runs; a private one names nothing of it (the sealed
  // registration does), and its commitment must hide the commit rather than show it.
  .superRefine((d, ctx) => {
    const priv = d.visibility === 'private'
    for (const f of PRIVATE_COORDINATES) {
      if (priv && d[f] !== undefined)
        ctx.addIssue({
          code: 'custom',
          message: 'a private service does not publish it',
          path: [f],
        })
      if (!priv && f !== 'workflow' && d[f] === undefined)
        ctx.addIssue({ code: 'custom', message: 'a public service names it', path: [f] })
    }
    if (!priv && d.revealGoal !== undefined)
      ctx.addIssue({
        code: 'custom',
        message: 'only a private service has a reveal goal',
        path: ['revealGoal'],
      })
    if (priv !== isPrivateCommitment(d.sourceCommitment))
      ctx.addIssue({
        code: 'custom',
        message: priv
          ? 'a private service commits with poseidon:…'
          : 'a public service commits to its commit SHA',
        path: ['sourceCommitment'],
      })
  })
  // GitHub's dispatch needs the repository as owner/repo and a workflow file; GitLab takes neither.
  .refine(
    (d) => d.provider !== 'github' || d.visibility === 'private' || d.workflow !== undefined,
    {
      message: 'a GitHub service names its workflow file',
      path: ['workflow'],
    },
  )
  .refine(
    (d) => d.provider !== 'github' || d.project === undefined || GITHUB_REPOSITORY.test(d.project),
    {
      message: 'a GitHub project is owner/repo',
      path: ['project'],
    },
  )
  .refine((d) => d.provider !== 'gitlab' || d.workflow === undefined, {
    message: 'only a GitHub service names a workflow file',
    path: ['workflow'],
  })
/** The fields a private descriptor leaves out: where its job runs. */
export const PRIVATE_COORDINATES = ['providerUrl', 'project', 'ref', 'workflow', 'job'] as const

type DescriptorFields = z.infer<typeof ServiceDescriptorSchema>
type Coordinate = (typeof PRIVATE_COORDINATES)[number]
/** A descriptor that publishes where its job runs. */
export type PublicServiceDescriptor = Omit<DescriptorFields, Coordinate | 'visibility'> &
  Required<Pick<DescriptorFields, Exclude<Coordinate, 'workflow'>>> & {
    workflow?: string
    visibility?: 'public'
  }
/** A descriptor whose coordinates travel only sealed to the Worker. */
export type PrivateServiceDescriptor = Omit<DescriptorFields, Coordinate | 'visibility'> & {
  visibility: 'private'
}
/** One version of one CI job offered as a service. */
export type ServiceDescriptor = PublicServiceDescriptor | PrivateServiceDescriptor

/** True when a descriptor keeps its source private. */
export const isPrivateService = (d: ServiceDescriptor): d is PrivateServiceDescriptor =>
  d.visibility === 'private'

/** Validates an untrusted service descriptor. */
export const parseServiceDescriptor = (input: unknown): Result<ServiceDescriptor> =>
  parseWith(ServiceDescriptorSchema, input) as Result<ServiceDescriptor>

/**
 * The bytes pinned for a descriptor: the canonical JSON (RFC 8785) of the parsed descriptor, with
 * its defaults filled in. Not the bytes of the operator's file: spacing, key order and left-out
 * defaults must not change what is frozen on chain.
 */
export const serviceDescriptorBytes = (descriptor: ServiceDescriptor): Uint8Array =>
  canonicalBytes(descriptor)

/**
 * The descriptor's CID: raw-codec CIDv1 (sha2-256) of `serviceDescriptorBytes`, computed here and
 * not by an importer, so the CID pinned, frozen on chain and checked by the page is one value.
 */
export function serviceDescriptorCid(descriptor: ServiceDescriptor): CID {
  const digest = createDigest(sha256Hasher.code, sha256(serviceDescriptorBytes(descriptor)))
  return CID.createV1(raw.code, digest)
}
