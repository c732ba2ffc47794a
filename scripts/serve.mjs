// A static file server for dist/ (the bundle and the pages built by scripts/build.mjs), on 127.0.0.1
// only. WebGPU needs a secure context; http://127.0.0.1 is one, so no certificate is needed.
// Usage: node scripts/serve.mjs [--port N] [--root DIR]   (default 8080, 0 picks a free port; dist/)
// Prints one line, "serving DIR at http://127.0.0.1:PORT/", once it listens.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const rootArg = process.argv.indexOf('--root');
const root = rootArg > 0
  ? path.resolve(process.argv[rootArg + 1])
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
  '.y4m': 'video/x-yuv4mpeg',
};

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 8080;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`serve: --port must be an integer 0..65535, got ${process.argv[portArg + 1]}`);
  process.exit(2);
}

function fileFor(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const file = path.resolve(root, `.${decoded.endsWith('/') ? `${decoded}index.html` : decoded}`);
  // Anything that resolves outside the root (../ segments) is not served.
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  try {
    return statSync(file).isFile() ? file : null;
  } catch {
    return null;
  }
}

const server = createServer((request, response) => {
  const { pathname } = new URL(request.url ?? '/', 'http://127.0.0.1');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (pathname === '/') {
    response.writeHead(302, { location: '/web/' }).end();
    return;
  }
  const file = fileFor(pathname);
  if (!file) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${pathname} (run \`npm run build\` first?)\n`);
    return;
  }
  response.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    // A rebuild must show on reload.
    'cache-control': 'no-store',
  });
  if (request.method === 'HEAD') response.end();
  else createReadStream(file).pipe(response);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`serving ${rootArg > 0 ? root : 'dist/'} at http://127.0.0.1:${server.address().port}/`);
});
