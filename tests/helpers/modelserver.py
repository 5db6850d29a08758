#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A scripted model on loopback for the real agents (tests/host/agents.sh).

Speaks just enough of the Anthropic Messages API (POST /v1/messages,
streaming SSE or not) for Claude Code and of the OpenAI Responses API
(POST /v1/responses, SSE) for Codex that each agent gets one turn: a
shell tool call running COMMAND, and, once the tool's result comes
back, a final text answer. Side requests (titles, quota checks, requests
without tools) get a short text answer. Every request is logged, one
JSON line, to --log; the tool-call ids it issued are in the log too.

  modelserver.py --port-file F --log L --command 'touch x'
"""
import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
COUNTER = [0]


def log(entry):
    with LOCK:
        with open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")


def next_id(prefix):
    with LOCK:
        COUNTER[0] += 1
        return "%s%024d" % (prefix, COUNTER[0])


def anthropic_has_result(body):
    for m in body.get("messages", []):
        if m.get("role") != "user" or not isinstance(m.get("content"), list):
            continue
        for b in m["content"]:
            if isinstance(b, dict) and b.get("type") == "tool_result":
                return True
    return False


def anthropic_tools(body):
    return [t.get("name") for t in body.get("tools", []) if isinstance(t, dict)]


def responses_has_result(body):
    items = body.get("input", [])
    if not isinstance(items, list):
        return False
    return any(isinstance(i, dict) and i.get("type") in
               ("function_call_output", "custom_tool_call_output") for i in items)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.headers.get("Content-Encoding") == "zstd" or not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return {}

    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def sse(self, events):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for name, data in events:
            chunk = ("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        log({"method": "GET", "path": self.path})
        if self.path.startswith("/v1/models"):
            self.send_json(200, {"object": "list", "data": [], "models": []})
        else:
            self.send_json(404, {"error": {"type": "not_found", "message": self.path}})

    def do_POST(self):
        body = self.body()
        path = self.path.split("?")[0]
        entry = {"method": "POST", "path": path, "stream": bool(body.get("stream"))}
        if path.endswith("/messages"):
            self.anthropic(body, entry)
        elif path.endswith("/responses"):
            self.openai_responses(body, entry)
        elif path.endswith("/count_tokens"):
            log(entry)
            self.send_json(200, {"input_tokens": 10})
        else:
            log(entry)
            self.send_json(404, {"error": {"type": "not_found", "message": path}})

    # ---- Anthropic Messages ----
    def anthropic(self, body, entry):
        tools = anthropic_tools(body)
        model = body.get("model", "claude-test")
        entry["tools"] = len(tools)
        if "Bash" in tools and not anthropic_has_result(body):
            tid = next_id("toolu_")
            entry["tool_use_id"] = tid
            block = {"type": "tool_use", "id": tid, "name": "Bash", "input": {}}
            args = json.dumps({"command": ARGS.command, "description": "scripted"})
            stop = "tool_use"
        else:
            block = {"type": "text", "text": ""}
            args = None
            stop = "end_turn"
        entry["reply"] = stop
        log(entry)
        text = ARGS.answer
        msg = {"id": next_id("msg_"), "type": "message", "role": "assistant", "model": model,
               "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": 10, "output_tokens": 1,
                         "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
        if not body.get("stream"):
            content = ([dict(block, input=json.loads(args))] if args else
                       [{"type": "text", "text": text}])
            self.send_json(200, dict(msg, content=content, stop_reason=stop))
            return
        ev = [("message_start", {"type": "message_start", "message": msg}),
              ("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": block})]
        if args:
            ev.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                       "delta": {"type": "input_json_delta", "partial_json": args}}))
        else:
            ev.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                       "delta": {"type": "text_delta", "text": text}}))
        ev += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
               ("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": stop, "stop_sequence": None},
                                  "usage": {"output_tokens": 5}}),
               ("message_stop", {"type": "message_stop"})]
        self.sse(ev)

    # ---- OpenAI Responses ----
    def openai_responses(self, body, entry):
        names = [t.get("name") for t in body.get("tools", []) if isinstance(t, dict)]
        entry["tools"] = names
        rid = next_id("resp_")
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": 15}
        if not responses_has_result(body) and any(n in names for n in
                                                  ("shell_command", "shell", "exec_command")):
            cid = next_id("call_")
            entry["call_id"] = cid
            if "shell_command" in names:
                name, args = "shell_command", {"command": ARGS.command}
            elif "shell" in names:
                name, args = "shell", {"command": ["bash", "-lc", ARGS.command]}
            else:
                name, args = "exec_command", {"cmd": ARGS.command}
            item = {"type": "function_call", "id": next_id("fc_"), "call_id": cid,
                    "name": name, "arguments": json.dumps(args), "status": "completed"}
            entry["reply"] = name
        else:
            item = {"type": "message", "id": next_id("msg_"), "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": ARGS.answer,
                                 "annotations": []}]}
            entry["reply"] = "text"
        log(entry)
        resp = {"id": rid, "object": "response", "status": "in_progress",
                "model": body.get("model", "gpt-test"), "output": []}
        done = dict(resp, status="completed", output=[item], usage=usage)
        self.sse([("response.created", {"type": "response.created", "response": resp}),
                  ("response.output_item.added", {"type": "response.output_item.added",
                                                  "output_index": 0, "item": item}),
                  ("response.output_item.done", {"type": "response.output_item.done",
                                                 "output_index": 0, "item": item}),
                  ("response.completed", {"type": "response.completed", "response": done})])


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--answer", default="All done.")
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os
    os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
