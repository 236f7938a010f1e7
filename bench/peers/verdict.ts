// The selfcheck's last line and exit status. It compares the two peers, so with either missing
// nothing was compared: that is reported as not run (exit 1), never as "selfcheck passed".
export function selfcheckVerdict(r: { tfjs: boolean; torch: boolean; failures: number }): { ok: boolean; line: string } {
  const missing = [r.tfjs ? null : 'tfjs', r.torch ? null : 'torch'].filter((x) => x !== null);
  if (missing.length > 0) {
    return { ok: false, line: `selfcheck not run: ${missing.join(' and ')} missing (the "available" lines above say why)` };
  }
  return r.failures === 0 ? { ok: true, line: 'selfcheck passed' } : { ok: false, line: `selfcheck: ${r.failures} failure(s)` };
}
