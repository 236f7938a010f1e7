// The page's server: index.html and the bundle (built once at start), on 127.0.0.1 only.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bundle, PAGE_ENTRY } from './build.ts';

export interface PageServer {
  url: string;
  /** The bundle's size in bytes. */
  bytes: number;
  close(): Promise<void>;
}

/** Serves the page on `port` (0: any free port). `run: 'builtin'` makes the page start the
 *  built-in run with the CLI's recipe as it opens. `entry`: another bundle (the browser tests'). */
export async function servePage(options: { port?: number; run?: string | null; entry?: string } = {}): Promise<PageServer> {
  const js = (await bundle(options.entry ?? PAGE_ENTRY)).code;
  const html = readFileSync(new URL('./index.html', import.meta.url), 'utf8').replace('data-run=""', `data-run="${options.run ?? ''}"`);
  const server = createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    const [type, body] = route === '/' || route === '/index.html' ? ['text/html', html] : route === '/main.js' ? ['text/javascript', js] : [null, ''];
    if (route === '/favicon.ico') {
      res.writeHead(204).end(); // no icon, and no 404 in the console
      return;
    }
    if (type === null) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`, bytes: Buffer.byteLength(js),
    // Open tabs keep their connections alive: closing drops them, so close() does not wait on a tab.
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
