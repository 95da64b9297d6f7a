import {
  type PrivateCoordinates,
  type ServiceDescriptor,
  sealJson,
  signServiceRegistration,
  signServiceRetirement,
  TRIGGER_TOKEN_INFO,
} from '../protocol/index.ts'

/**
 * The provider credentials the Worker triggers runs with; sent only sealed to its key. For a
 * GitHub service `triggerToken` is the fine-grained token (Actions: write) and `webhookSecret`,
 * which signs its deliveries, is required; `apiToken` is GitLab's alone.
 */
export interface ProviderCredentials {
  triggerToken: string
  /** Read-only API token, for reconciling ambiguous GitLab triggers. */
  apiToken?: string
  /** The secret of this service's webhook alone (GitLab's X-Gitlab-Token, GitHub's HMAC key). */
  webhookSecret?: string
  /**
   * A private service's coordinates and commitment opening: sealed with the credentials, the only
   * place the Worker learns where the job runs.
   */
  coordinates?: PrivateCoordinates
}

/** The credentials as the Worker opens them for the descriptor's provider (protocol's sealed shapes). */
function sealedCredentials(provider: ServiceDescriptor['provider'], c: ProviderCredentials) {
  if (provider === 'github') {
    if (!c.webhookSecret) {
      throw new RegistrationError(
        0,
        'MISSING_WEBHOOK_SECRET',
        'a GitHub service needs its webhook secret',
      )
    }
    return {
      v: 1,
      provider: 'github',
      token: c.triggerToken,
      webhookSecret: c.webhookSecret,
      ...(c.coordinates ? { coordinates: c.coordinates } : {}),
    }
  }
  return {
    v: 1,
    triggerToken: c.triggerToken,
    ...(c.apiToken ? { apiToken: c.apiToken } : {}),
    ...(c.webhookSecret ? { webhookSecret: c.webhookSecret } : {}),
    ...(c.coordinates ? { coordinates: c.coordinates } : {}),
  }
}

/** One service version to register with the Worker. */
export interface Registration {
  workerUrl: string
  service: string
  descriptor: ServiceDescriptor
  descriptorCid: string
  credentials: ProviderCredentials
  /** The descriptor's runner key (base58 private key): signs the registration. */
  runnerPrivateKey: string
}

/** A refusal by the Worker, with its `{ error: { code } }` code when it sent one. */
export class RegistrationError extends Error {
  override readonly name = 'RegistrationError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Seals the provider credentials to the Worker's key named in the descriptor, signs the
 * registration with the runner key and POSTs it to `/v1/services`. The stack and `offer` both
 * register through here, so the registration has one shape.
 */
export async function registerWithWorker(
  r: Registration,
  fetchFn: typeof fetch = fetch,
): Promise<{ registeredAt: unknown }> {
  const registration = signServiceRegistration(
    {
      v: 1,
      service: r.service,
      descriptor: r.descriptor,
      descriptorCid: r.descriptorCid,
      triggerToken: await sealJson(
        r.descriptor.workerPublicKey,
        TRIGGER_TOKEN_INFO,
        sealedCredentials(r.descriptor.provider, r.credentials),
      ),
    },
    r.runnerPrivateKey,
  )
  const answer = await postToWorker(
    new URL('/v1/services', r.workerUrl),
    registration,
    'registration',
    fetchFn,
  )
  return { registeredAt: (answer as { registeredAt?: unknown }).registeredAt }
}

/**
 * POSTs `body` as JSON to the Worker and returns its JSON answer. A refusal throws a
 * RegistrationError carrying the Worker's error code (or HTTP_ERROR when the answer is not the
 * Worker's JSON error), naming `what` was refused.
 */
async function postToWorker(
  url: URL,
  body: unknown,
  what: string,
  fetchFn: typeof fetch,
): Promise<unknown> {
  const res = await fetchFn(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) {
    let code = 'HTTP_ERROR'
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? code
    } catch {
      // Not the Worker's JSON error: keep the status.
    }
    throw new RegistrationError(
      res.status,
      code,
      `the Worker refused the ${what}: ${res.status} ${text.slice(0, 300)}`,
    )
  }
  return JSON.parse(text)
}

/** Retires `service` at the Worker with a retirement signed now by the runner key (idempotent). */
export async function retireWithWorker(
  workerUrl: string,
  service: string,
  runnerPrivateKey: string,
  fetchFn: typeof fetch = fetch,
): Promise<{ retiredAt: unknown }> {
  const retirement = signServiceRetirement({ service, at: Date.now() }, runnerPrivateKey)
  const answer = await postToWorker(
    new URL(`/v1/services/${service}/retire`, workerUrl),
    retirement,
    'retirement',
    fetchFn,
  )
  return { retiredAt: (answer as { retiredAt?: unknown }).retiredAt }
}

/** What the Worker holds for a service: whether it is registered, under which descriptor. */
export async function workerServiceStatus(
  workerUrl: string,
  service: string,
  fetchFn: typeof fetch = fetch,
): Promise<{
  registered: boolean
  retired?: boolean
  descriptorCid?: string
  enabled?: boolean
  reason?: string
}> {
  const res = await fetchFn(new URL(`/v1/services/${service}`, workerUrl))
  if (!res.ok)
    throw new RegistrationError(res.status, 'HTTP_ERROR', `GET ${res.url}: ${res.status}`)
  return (await res.json()) as {
    registered: boolean
    retired?: boolean
    descriptorCid?: string
    enabled?: boolean
    reason?: string
  }
}
