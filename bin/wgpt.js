#!/usr/bin/env node
// Entry point for `npx wgpt`: the project runs from its TypeScript sources (no build step), so
// register tsx's loader and hand over to the real CLI.
//
// Dawn prints two lines from native code straight to file descriptor 2 whenever an adapter is
// made ("Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to
// fit dynamic offset allocation limit.", and the same for storage buffers): limits wgpt never
// uses, which a user can do nothing about. Node cannot redirect a descriptor around one native
// call, so the CLI runs as a child whose stderr passes through here with exactly those two lines
// dropped; every other line goes through as it comes (a progress bar's partial lines at once).
// WGPT_DEBUG set: no child, everything shown.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const DAWN_LIMIT_WARNING = new RegExp('^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced ' +
  'from \\d+ to \\d+ to fit dynamic offset allocation limit\\.\\r?\\n$');
const PREFIX = 'Warning: maxDynamic';

if (process.env.WGPT_DEBUG || process.env.WGPT_CLI_CHILD) {
  if (process.env.WGPT_CLI_CHILD) {
    // The parent's stderr is a terminal: draw progress bars as if ours were.
    if (process.env.WGPT_CLI_CHILD === 'tty') Object.defineProperty(process.stderr, 'isTTY', { value: true });
    // The parent died without passing a signal on (SIGKILL): go with it.
    process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
    process.channel?.unref();
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import('./wgpt.ts');
} else {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, WGPT_CLI_CHILD: process.stderr.isTTY ? 'tty' : '1' },
  });
  // Ctrl-C reaches both processes from the terminal; a signal sent to this one alone (a
  // scheduler's SIGTERM, kill PID) is passed on. The child decides what a signal does.
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    pending += chunk;
    let out = '';
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl + 1);
      pending = pending.slice(nl + 1);
      if (!DAWN_LIMIT_WARNING.test(line)) out += line;
    }
    // A partial line waits only while it could still become one of the two.
    if (pending !== '' && !(PREFIX.startsWith(pending) || pending.startsWith(PREFIX))) {
      out += pending;
      pending = '';
    }
    if (out) process.stderr.write(out);
  });
  child.on('close', (code, signal) => {
    if (pending) process.stderr.write(pending);
    if (signal) {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(s, forward);
      process.kill(process.pid, signal);
      return;
    }
    process.exitCode = code ?? 1;
  });
}
