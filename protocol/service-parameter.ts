// The one rule for whether a service may be passed as a `service` parameter (a higher-order
// service's driver). The Worker refuses a request by it before anything is charged, the page
// checks a value by it before sealing and lists the market's matching services with it: each
// reads the driver's facts its own way (the Worker its registration and the chain, the page the
// registry, the chain, IPFS and the Worker) and asks here, so a refusal means the same everywhere.
import type { ParameterSpec, ServiceInterface } from './parameters.ts'
import type { Availability, ServiceDisabledReason } from './service-availability.ts'
import type { ServiceDescriptor } from './service-descriptor.ts'

/**
 * The stable codes of why a service is not a valid driver, in the order the rule decides them.
 * They appear in the Worker's 422 messages and on the page; never rename one.
 */
export const DriverRefusal = {
  /** No service contract at the address, or its descriptor could not be read. */
  UNKNOWN_SERVICE: 'unknown-service',
  /** A contract, but not a registered service version (not registered with the Worker, not listed). */
  NOT_REGISTERED: 'not-registered',
  /** Registered, but the availability rule says it takes no job now (retired, stale, unsafe, …). */
  UNAVAILABLE: 'unavailable',
  /** Its descriptor does not declare a parameter or output the interface requires, or mistypes it. */
  INTERFACE_MISMATCH: 'interface-mismatch',
} as const

/** Why a service is not a valid driver (one of DriverRefusal). */
export type DriverRefusalCode = (typeof DriverRefusal)[keyof typeof DriverRefusal]

/** A `service` parameter's spec. */
export type ServiceParameterSpec = Extract<ParameterSpec, { type: 'service' }>

/** What the rule decides on; each reader supplies what it read of the candidate. */
export interface DriverFacts {
  /**
   * The availability rule's verdict on the version itself, without any user's funding (the
   * outer runner pays the driver, not the user); null when no service contract is at the address.
   */
  availability: Availability | null
  /** Whether the version is registered: with the Worker, and on the page also listed in the registry. */
  registered: boolean
  /** Its descriptor, checked against the CID its contract holds; null when not read. */
  descriptor: ServiceDescriptor | null
}

/** The rule's answer; a refusal says which parameter, why (code) and, for `unavailable`, the reason. */
export type DriverVerdict =
  | { ok: true }
  | {
      ok: false
      code: DriverRefusalCode
      message: string
      path: readonly ['parameters', string]
      /** The availability rule's reason, for `unavailable`. */
      reason?: ServiceDisabledReason
    }

/**
 * Why `descriptor` does not satisfy `iface`, or null when it does. It must declare every
 * parameter the interface names with that type, require no parameter the interface does not name
 * (the outer job could not set it), and declare every output the interface names, as required and
 * with that type (the outer job reads it).
 */
export function interfaceProblem(
  iface: ServiceInterface | undefined,
  descriptor: ServiceDescriptor,
): string | null {
  const wanted = iface?.parameters ?? []
  for (const p of wanted) {
    const declared = descriptor.parameters.find((d) => d.name === p.name)
    if (!declared) return `it does not declare parameter ${p.name} (${p.type})`
    if (declared.type !== p.type)
      return `its parameter ${p.name} is ${declared.type}, not ${p.type}`
  }
  for (const d of descriptor.parameters) {
    const defaulted = d.type !== 'service' && d.default !== undefined
    if (d.required && !defaulted && !wanted.some((p) => p.name === d.name))
      return `it requires parameter ${d.name}, which the interface does not pass`
  }
  for (const o of iface?.outputs ?? []) {
    const declared = descriptor.outputs?.find((d) => d.name === o.name)
    if (!declared) return `it does not declare output ${o.name} (${o.type})`
    if (declared.type !== o.type) return `its output ${o.name} is ${declared.type}, not ${o.type}`
    if (!declared.required) return `its output ${o.name} is optional, so it may not be written`
  }
  return null
}

/**
 * Decides whether the service at `address` may be passed as `spec`'s value. In order: a contract
 * must be at the address (unknown-service), the version registered (not-registered), the
 * availability rule must let it take a job (unavailable, with its reason), its descriptor must be
 * read (unknown-service) and satisfy the spec's interface (interface-mismatch, naming what differs).
 */
export function checkDriver(
  spec: ServiceParameterSpec,
  address: string,
  facts: DriverFacts,
): DriverVerdict {
  const path = ['parameters', spec.name] as const
  const refuse = (code: DriverRefusalCode, why: string, reason?: ServiceDisabledReason) => ({
    ok: false as const,
    code,
    message: `${spec.name}: ${code}: ${address} ${why}`,
    path,
    ...(reason ? { reason } : {}),
  })
  if (facts.availability === null)
    return refuse(DriverRefusal.UNKNOWN_SERVICE, 'is not a service contract')
  if (!facts.registered)
    return refuse(DriverRefusal.NOT_REGISTERED, 'is not a registered service version')
  if (!facts.availability.enabled) {
    const { reason } = facts.availability
    return refuse(DriverRefusal.UNAVAILABLE, `takes no job now (${reason})`, reason)
  }
  if (facts.descriptor === null)
    return refuse(DriverRefusal.UNKNOWN_SERVICE, 'has no descriptor that could be read')
  const problem = interfaceProblem(spec.interface, facts.descriptor)
  if (problem !== null)
    return refuse(DriverRefusal.INTERFACE_MISMATCH, `does not match the interface: ${problem}`)
  return { ok: true }
}

/**
 * The `service` parameters a request sets, with the address each names: what the caller reads
 * facts for. `values` are validateParameters' output (so each address is well-formed).
 */
export function driverParameters(
  specs: readonly ParameterSpec[],
  values: Readonly<Record<string, string>>,
): { spec: ServiceParameterSpec; address: string }[] {
  return specs.flatMap((spec) =>
    spec.type === 'service' && values[spec.name] !== undefined
      ? [{ spec, address: values[spec.name] as string }]
      : [],
  )
}
