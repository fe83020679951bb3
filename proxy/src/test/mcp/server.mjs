// An MCP server built only from the official MCP TypeScript SDK: McpServer + StreamableHTTPServerTransport, stateful
// (one transport and one McpServer per Mcp-Session-Id), on 127.0.0.1.
//
//   node server.mjs <port>      (0 = any free port)
//
// stdout, one JSON object per line: {"ready":<port>} once listening, then {"call":<tool>,"session":<id>,
// "arguments":{...},"credential":{...}} for every tool call that reached the server, so a test can tell what was
// forwarded and with which credential headers (the JOSE "typ" of a tollgate-token, never the token).
import { randomUUID } from 'node:crypto';
import http from 'node:http';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const MAX_BODY = 1024 * 1024;
const MAX_SESSIONS = 1000;

const port = Number.parseInt(process.argv[2] ?? '', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('usage: node server.mjs <port> (0 to 65535; 0 = any free port)');
    process.exit(2);
}

function log(line) {
    process.stdout.write(JSON.stringify(line) + '\n');
}

// What credential the request that carried a tool call had: whether an Authorization header came through, and the
// JOSE header "typ" of the tollgate-token header that the tool's sidecar passes on.
function credential(extra) {
    const headers = extra?.requestInfo?.headers ?? {};
    const token = headers['tollgate-token'];
    let typ = null;
    if (typeof token === 'string') {
        try {
            typ = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')).typ ?? null;
        } catch {
            typ = 'unreadable';
        }
    }
    return { authorization: headers.authorization !== undefined, tollgateTokenTyp: typ };
}

function text(value) {
    return { content: [{ type: 'text', text: JSON.stringify(value) }] };
}

// The labels are the policy's business (config/policy.yaml); they are repeated in _meta for readers only.
function newServer(sessionId) {
    const server = new McpServer({ name: 'tollgate-e2e-tools', version: '1.0.0' });
    server.registerTool('crm.read_customer', {
        description: 'Reads a customer record from the CRM.',
        inputSchema: { id: z.string().max(64) },
        annotations: { readOnlyHint: true, openWorldHint: false },
        _meta: { 'dev.tollgate/labels': ['sensitive-read'] }
    }, async ({ id }, extra) => {
        log({ call: 'crm.read_customer', session: sessionId(), arguments: { id }, credential: credential(extra) });
        return text({ id, name: `Customer ${id}`, email: `${id}@example.com` });
    });
    server.registerTool('web.post', {
        description: 'Posts a text to an external web address.',
        inputSchema: { url: z.string().max(2048), body: z.string().max(65536) },
        annotations: { readOnlyHint: false, openWorldHint: true },
        _meta: { 'dev.tollgate/labels': ['external-egress'] }
    }, async ({ url, body }, extra) => {
        log({ call: 'web.post', session: sessionId(), arguments: { url, body }, credential: credential(extra) });
        return text({ posted: url, bytes: Buffer.byteLength(body, 'utf8') });
    });
    server.registerTool('notes.write', {
        description: 'Writes a note.',
        inputSchema: { text: z.string().max(65536) },
        annotations: { readOnlyHint: false, openWorldHint: false },
        _meta: { 'dev.tollgate/labels': ['write'] }
    }, async ({ text: note }, extra) => {
        log({ call: 'notes.write', session: sessionId(), arguments: { text: note },
            credential: credential(extra) });
        return text({ saved: true, chars: note.length });
    });
    return server;
}

const transports = new Map();

function jsonRpcError(res, status, message) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

async function readJson(req) {
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
        size += chunk.length;
        if (size > MAX_BODY) {
            throw new Error(`request body over ${MAX_BODY} bytes`);
        }
        chunks.push(chunk);
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function handle(req, res) {
    const path = new URL(req.url, 'http://localhost').pathname;
    if (path !== '/mcp') {
        res.writeHead(404).end();
        return;
    }
    const sid = req.headers['mcp-session-id'];
    if (req.method === 'POST') {
        let body;
        try {
            body = await readJson(req);
        } catch (e) {
            jsonRpcError(res, 400, `Bad request: ${e.message}`);
            return;
        }
        if (typeof sid === 'string' && transports.has(sid)) {
            await transports.get(sid).handleRequest(req, res, body);
            return;
        }
        if (sid === undefined && isInitializeRequest(body)) {
            if (transports.size >= MAX_SESSIONS) {
                jsonRpcError(res, 503, `Too many sessions (at most ${MAX_SESSIONS})`);
                return;
            }
            const transport = new StreamableHTTPServerTransport({
                sessionIdGenerator: () => randomUUID(),
                onsessioninitialized: id => transports.set(id, transport)
            });
            transport.onclose = () => {
                if (transport.sessionId) {
                    transports.delete(transport.sessionId);
                }
            };
            await newServer(() => transport.sessionId).connect(transport);
            await transport.handleRequest(req, res, body);
            return;
        }
        jsonRpcError(res, 400, 'Bad request: no valid session ID');
        return;
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
        if (typeof sid !== 'string' || !transports.has(sid)) {
            jsonRpcError(res, 400, 'Bad request: no valid session ID');
            return;
        }
        await transports.get(sid).handleRequest(req, res);
        return;
    }
    res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
}

const httpServer = http.createServer((req, res) => {
    handle(req, res).catch(e => {
        console.error(e);
        if (!res.headersSent) {
            jsonRpcError(res, 500, 'Internal server error');
        } else {
            res.end();
        }
    });
});
httpServer.listen(port, '127.0.0.1', () => log({ ready: httpServer.address().port }));

function stop() {
    for (const t of transports.values()) {
        t.close().catch(() => {});
    }
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
