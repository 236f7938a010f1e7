// The command line of a WebGPU peer process (tfjs.ts, jaxjs.ts): one request as JSON in argv[2]
// (default {"kind":"available"}), one measurement, one JSON line on stdout, then exit (1 when the
// answer is an error: the Dawn device would keep Node alive otherwise).
import { message } from './measure.ts';

export type PeerHandlers = Record<string, (req: Record<string, unknown>) => Promise<unknown>>;

export async function servePeerRequest(handlers: PeerHandlers): Promise<never> {
  let out: unknown;
  try {
    const req = JSON.parse(process.argv[2] ?? '{"kind":"available"}') as Record<string, unknown>;
    const handle = Object.hasOwn(handlers, String(req.kind)) ? handlers[String(req.kind)] : undefined;
    out = handle ? await handle(req) : { error: `unknown request kind '${String(req.kind)}'` };
  } catch (e) {
    out = { error: message(e) };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit('error' in (out as object) ? 1 : 0);
}
