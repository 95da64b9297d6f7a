import { z } from 'zod'
import type { Result } from './errors.ts'
import { ParameterSpecSchema } from './parameters.ts'
import { parseWith } from './parse.ts'
import {
  CommitShaSchema,
  HpkePublicKeySchema,
  PublicKeySchema,
  Uint64Schema,
} from './primitives.ts'

/** One version of one CI job offered as a service: published on IPFS, its CID frozen on chain. */
export const ServiceDescriptorSchema = z
  .strictObject({
    v: z.literal(1),
    /** Human name shown in the market. */
    name: z.string().min(1).max(120),
    description: z.string().max(2000).default(''),
    provider: z.enum(['gitlab', 'github']),
    /** Base URL of the provider, e.g. https://gitlab.com. */
    providerUrl: z.url({ protocol: /^https?$/ }),
    /** Project id or URL-encodable path (`group/project`) as the provider's API takes it. */
    project: z.string().min(1).max(255),
    /** Branch or tag the pipeline runs on. */
    ref: z.string().min(1).max(255),
    /** Name of the CI job that is the service. */
    job: z.string().min(1).max(255),
    /** Commit SHA of the pipeline definition: what the user reviewed and pays for. */
    sourceCommitment: CommitShaSchema,
    /** Price of one job in credits (token base units). */
    pricePerJob: Uint64Schema,
    /** The runner oracle's Mina public key: signs results and heartbeats. */
    runnerPublicKey: PublicKeySchema,
    /** The Worker's HPKE public key that requests are sealed to. */
    workerPublicKey: HpkePublicKeySchema,
    /** Typed parameters a request may set. */
    parameters: z.array(ParameterSpecSchema).max(64).default([]),
  })
  .refine((d) => new Set(d.parameters.map((p) => p.name)).size === d.parameters.length, {
    message: 'parameter names must be unique',
    path: ['parameters'],
  })
/** One version of one CI job offered as a service. */
export type ServiceDescriptor = z.infer<typeof ServiceDescriptorSchema>

/** Validates an untrusted service descriptor. */
export const parseServiceDescriptor = (input: unknown): Result<ServiceDescriptor> =>
  parseWith(ServiceDescriptorSchema, input)
