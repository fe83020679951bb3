// An MCP client built only from the official MCP TypeScript SDK: Client + StreamableHTTPClientTransport.
//
//   MCP_BEARER_TOKEN=<task token> node client.mjs <url> < steps.json
//
// steps.json: a JSON array of steps, run in order on one session after connecting (initialize):
//   {"op":"listTools"}
//   {"op":"callTool","name":"crm.read_customer","arguments":{"id":"c-1"}}
// When MCP_BEARER_TOKEN is set, every HTTP request carries "Authorization: Bearer <token>" (requestInit headers).
//
// stdout, one JSON object per line: {"op":"connect",...} first, then one line per step, then
// {"op":"terminateSession",...}. A line has "ok":true and the result, or "ok":false and the error the SDK surfaced:
// {"name","message","code","data"} (code and data only when the error has them). A failed connect ends the run.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const MAX_STEPS_INPUT = 1024 * 1024;
const MAX_STEPS = 100;
const REQUEST_TIMEOUT_MS = 20000;

function usage(why) {
    console.error(`client.mjs: ${why}\nusage: MCP_BEARER_TOKEN=<token> node client.mjs <url> < steps.json`);
    process.exit(2);
}

async function readSteps() {
    const chunks = [];
    let size = 0;
    for await (const chunk of process.stdin) {
        size += chunk.length;
        if (size > MAX_STEPS_INPUT) {
            usage(`steps: over ${MAX_STEPS_INPUT} bytes`);
        }
        chunks.push(chunk);
    }
    let steps;
    try {
        steps = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
        usage(`steps: not JSON (${e.message})`);
    }
    if (!Array.isArray(steps) || steps.length > MAX_STEPS) {
        usage(`steps: expected a JSON array of at most ${MAX_STEPS} steps`);
    }
    steps.forEach((s, i) => {
        const known = s && (s.op === 'listTools' || (s.op === 'callTool' && typeof s.name === 'string'));
        if (!known) {
            usage(`steps[${i}]: expected {"op":"listTools"} or {"op":"callTool","name":...,"arguments":{...}}`);
        }
    });
    return steps;
}

function print(line) {
    process.stdout.write(JSON.stringify(line) + '\n');
}

function surfaced(e) {
    const out = { name: e?.constructor?.name ?? typeof e, message: String(e?.message ?? e) };
    if (e && e.code !== undefined) {
        out.code = e.code;
    }
    if (e && e.data !== undefined) {
        out.data = e.data;
    }
    return out;
}

async function run(client, step) {
    const options = { timeout: REQUEST_TIMEOUT_MS };
    if (step.op === 'listTools') {
        const r = await client.listTools(undefined, options);
        return { tools: r.tools.map(t => t.name) };
    }
    return { result: await client.callTool({ name: step.name, arguments: step.arguments ?? {} }, undefined, options) };
}

const url = process.argv[2];
if (!url) {
    usage('no URL');
}
let parsed;
try {
    parsed = new URL(url);
} catch {
    usage(`not a URL: ${url}`);
}
const steps = await readSteps();
const token = process.env.MCP_BEARER_TOKEN;
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const transport = new StreamableHTTPClientTransport(parsed, { requestInit: { headers } });
const client = new Client({ name: 'tollgate-e2e-client', version: '1.0.0' });

try {
    await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
    print({ op: 'connect', ok: true, sessionId: transport.sessionId ?? null, server: client.getServerVersion() });
} catch (e) {
    print({ op: 'connect', ok: false, error: surfaced(e) });
    await client.close().catch(() => {});
    process.exit(0);
}
for (const step of steps) {
    const line = step.op === 'callTool' ? { op: step.op, name: step.name } : { op: step.op };
    try {
        print({ ...line, ok: true, ...(await run(client, step)) });
    } catch (e) {
        print({ ...line, ok: false, error: surfaced(e) });
    }
}
try {
    await transport.terminateSession();
    print({ op: 'terminateSession', ok: true });
} catch (e) {
    print({ op: 'terminateSession', ok: false, error: surfaced(e) });
}
await client.close();
