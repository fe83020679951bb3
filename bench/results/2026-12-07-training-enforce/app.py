import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def _send(self, body):
        b = json.dumps(body).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0")); req = json.loads(self.rfile.read(n) or b"{}")
        if req.get("method") == "tools/call":
            self._send({"jsonrpc": "2.0", "id": req.get("id"), "result": {"content": [{"type": "text", "text": "x"}]}})
        else:
            self._send({"jsonrpc": "2.0", "id": req.get("id"), "result": {"tools": [{"name": "echo.read", "inputSchema": {"type": "object"}}]}})
    def do_GET(self):
        self._send({"ok": True})
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
