/**
 * GitLab's expansion of variable values before a job sees them: `$NAME` and `${NAME}` become the
 * value of that variable (empty when unknown), and `$$` is a literal `$`. Trigger and pipeline
 * variables are expanded this way (the trigger API has no raw option), so a stand-in that passed
 * values through untouched would hide a `$CI_JOB_TOKEN` smuggled into a parameter.
 */
export function expandVariables(value: string, lookup: (name: string) => string | undefined) {
  return value.replace(
    /\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_match, dollar: string | undefined, braced: string | undefined, bare: string | undefined) =>
      dollar !== undefined ? '$' : (lookup((braced ?? bare)!) ?? ''),
  )
}
