// Starts a real Bluesky network (PLC directory, PDS, AppView with bsync, Ozone) on loopback for the
// Rounds test suite, prints one `READY {json}` line when it accepts requests, and stops cleanly on
// SIGTERM or SIGINT. Configuration comes from the environment; see README.md.
import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const LOOPBACK = '127.0.0.1';

function fail(message) {
  process.stderr.write(`bsky-net: ${message}\n`);
  process.exit(2);
}

function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`${name} must be a TCP port number, got ${JSON.stringify(raw)}`);
  }
  return port;
}

const dbPostgresUrl = process.env.DB_POSTGRES_URL;
if (!dbPostgresUrl) fail('DB_POSTGRES_URL is not set (a PostgreSQL database the network may fill)');
// dev-env 0.6.7 insists on REDIS_HOST but none of the services it starts connects to Redis. A name
// under .invalid never resolves, so a future version that does connect gets resolution errors rather
// than some unrelated Redis on this machine.
process.env.REDIS_HOST ||= 'unused.invalid:6379';
const schema = process.env.DB_POSTGRES_SCHEMA || 'rounds_bsky';
// dev-env builds the AppView's, bsync's and Ozone's schema names from this one, and they take only
// letters and underscores.
if (!/^[A-Za-z_]+$/.test(schema)) fail(`DB_POSTGRES_SCHEMA may hold only letters and underscores, got ${JSON.stringify(schema)}`);
const ports = {
  plc: portFromEnv('BSKY_NET_PLC_PORT', 2582),
  pds: portFromEnv('BSKY_NET_PDS_PORT', 2583),
  appview: portFromEnv('BSKY_NET_APPVIEW_PORT', 2584),
  ozone: portFromEnv('BSKY_NET_OZONE_PORT', 2587),
};
if (new Set(Object.values(ports)).size !== Object.keys(ports).length) {
  fail(`the ports must differ, got ${JSON.stringify(ports)}`);
}

// Every service calls `listen(port)` without a host, which would accept connections from other
// machines; the network holds throwaway accounts with well-known admin passwords, so it answers on
// loopback only.
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first, second] = args;
  if ((typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) && typeof second !== 'string') {
    args.splice(1, 0, LOOPBACK);
  } else if (first !== null && typeof first === 'object' && first.path === undefined && first.host === undefined) {
    args[0] = { ...first, host: LOOPBACK };
  }
  return listen.apply(this, args);
};
// The services call each other at `localhost`, which may resolve to ::1 first where nothing listens.
dns.setDefaultResultOrder('ipv4first');

// The PDS keeps its repositories and blobs under the temporary folder and never removes them, so each
// run gets a folder of its own that goes away at shutdown.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rounds-bsky-net-'));
process.env.TMPDIR = scratch;
const removeScratch = () => fs.rmSync(scratch, { recursive: true, force: true });

let network;
let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`bsky-net: ${signal}, shutting down\n`);
  // A service that hangs on close must not keep the test script waiting.
  const deadline = setTimeout(() => {
    process.stderr.write('bsky-net: shutdown took over 10 s, exiting anyway\n');
    removeScratch();
    process.exit(1);
  }, 10_000);
  deadline.unref();
  let code = 0;
  try {
    if (network) await network.close();
  } catch (err) {
    process.stderr.write(`bsky-net: error while shutting down: ${err?.stack ?? err}\n`);
    code = 1;
  }
  removeScratch();
  process.exit(code);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));

try {
  // Imported only now so that its temporary folders land in the scratch folder.
  const { TestNetwork } = await import('@atproto/dev-env');
  const started = Date.now();
  network = await TestNetwork.create({
    dbPostgresUrl,
    dbPostgresSchema: schema,
    plc: { port: ports.plc },
    pds: { port: ports.pds },
    bsky: { port: ports.appview },
    ozone: { port: ports.ozone },
  });
  const ready = {
    plc: `http://${LOOPBACK}:${ports.plc}`,
    pds: `http://${LOOPBACK}:${ports.pds}`,
    appview: `http://${LOOPBACK}:${ports.appview}`,
    ozone: `http://${LOOPBACK}:${ports.ozone}`,
    handleDomain: '.test',
    startupMs: Date.now() - started,
  };
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
} catch (err) {
  // Exiting ends every service this process started; only the scratch folder needs removing by hand.
  process.stderr.write(`bsky-net: failed to start: ${err?.stack ?? err}\n`);
  removeScratch();
  process.exit(1);
}
