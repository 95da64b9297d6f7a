import { parse } from 'yaml'
import type { StandinInput, StandinWorkflow } from './types.ts'

/** One step of a workflow job: a `run:` script (with its shell and env) or a `uses:` action. */
export type WorkflowStep =
  | { name?: string; run: string; shell?: string; env: Record<string, string> }
  | { name?: string; uses: string; with: Record<string, string> }

/** A workflow file as the stand-in reads it: what the REST API needs, and the first job's steps. */
export interface ParsedWorkflow {
  workflow: Omit<StandinWorkflow, 'id' | 'file'>
  env: Record<string, string>
  /** `defaults.run.shell` of the workflow or of the job. */
  shell?: string
  steps: WorkflowStep[]
}

const strings = (o: unknown): Record<string, string> =>
  Object.fromEntries(
    Object.entries((o ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
  )

/** Reads a workflow YAML file (its `workflow_dispatch` inputs, `run-name` and first job). */
export function parseWorkflow(text: string): ParsedWorkflow {
  const doc = parse(text) as Record<string, unknown>
  // YAML 1.1 reads a bare `on:` key as true in some parsers; `yaml` keeps it as the string "on".
  const on = (doc.on ?? doc.true) as Record<string, unknown> | undefined
  const dispatch = (on?.workflow_dispatch ?? {}) as { inputs?: Record<string, unknown> }
  const inputs: Record<string, StandinInput> = {}
  for (const [name, spec] of Object.entries(dispatch.inputs ?? {})) {
    const s = (spec ?? {}) as { required?: boolean; default?: unknown }
    inputs[name] = {
      ...(s.required ? { required: true } : {}),
      ...(s.default !== undefined ? { default: String(s.default) } : {}),
    }
  }
  const jobs = Object.entries((doc.jobs ?? {}) as Record<string, Record<string, unknown>>)
  const [jobName, job] = jobs[0] ?? ['build', {}]
  const defaults = (d: unknown) => (d as { run?: { shell?: string } } | undefined)?.run?.shell
  const steps = ((job.steps ?? []) as Record<string, unknown>[]).map(
    (s): WorkflowStep =>
      typeof s.run === 'string'
        ? {
            ...(s.name ? { name: String(s.name) } : {}),
            run: s.run,
            ...(s.shell ? { shell: String(s.shell) } : {}),
            env: strings(s.env),
          }
        : {
            ...(s.name ? { name: String(s.name) } : {}),
            uses: String(s.uses),
            with: strings(s.with),
          },
  )
  const name = typeof doc.name === 'string' ? doc.name : '.github/workflows'
  return {
    workflow: {
      name,
      ...(typeof doc['run-name'] === 'string' ? { runName: doc['run-name'] } : {}),
      inputs,
      jobName,
    },
    env: { ...strings(doc.env), ...strings(job.env) },
    shell: defaults(job.defaults) ?? defaults(doc.defaults),
    steps,
  }
}
