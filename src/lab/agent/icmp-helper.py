#!/usr/bin/env python3
"""ICMP echo for the lab agent: one long-lived process per namespace (Node.js has
no ICMP sockets), started on the first ICMP probe. JSON lines on stdio:
{"id": 1, "dst": "10.96.0.1", "src": null, "ident": 41000, "timeoutMs": 250}
-> {"id": 1, "outcome": "echo-reply" | "refused" | "icmp-error" | "dropped", "replyFrom": "...", "icmp": "..."}
The echo id is chosen by the caller, so that conntrack tuples can be compared with the model."""
import json, os, select, socket, struct, sys, time

UNREACH = {0: "net-unreachable", 1: "host-unreachable", 2: "proto-unreachable", 3: "port-unreachable",
           9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"}


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def probe(req):
    ident = int(req.get("ident") or 1) & 0xFFFF
    seq = 1
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        if req.get("src"):
            sock.bind((req["src"], 0))
        payload = b"nfconform"
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + payload), ident, seq) + payload
        try:
            sock.sendto(pkt, (req["dst"], 0))
        except OSError as e:
            return {"outcome": "icmp-error", "icmp": "net-unreachable", "note": str(e)}
        deadline = time.time() + req.get("timeoutMs", 250) / 1000.0
        while True:
            left = deadline - time.time()
            if left <= 0:
                return {"outcome": "dropped", "icmp": None}
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                return {"outcome": "dropped", "icmp": None}
            data, addr = sock.recvfrom(2048)
            ihl = (data[0] & 0x0F) * 4
            t, code = data[ihl], data[ihl + 1]
            if t == 0:
                rid, rseq = struct.unpack("!HH", data[ihl + 4:ihl + 8])
                if rid == ident and rseq == seq:
                    return {"outcome": "echo-reply", "replyFrom": addr[0], "icmp": None}
            elif t in (3, 11, 12):
                inner = data[ihl + 8:]
                if len(inner) >= 28 and inner[9] == 1:
                    iihl = (inner[0] & 0x0F) * 4
                    it, _, _, iid, iseq = struct.unpack("!BBHHH", inner[iihl:iihl + 8])
                    if it == 8 and iid == ident and iseq == seq:
                        if t == 3:
                            name = UNREACH.get(code, "code-%d" % code)
                            return {"outcome": "refused" if name == "port-unreachable" else "icmp-error", "icmp": name, "replyFrom": addr[0]}
                        return {"outcome": "icmp-error", "icmp": "time-exceeded" if t == 11 else "parameter-problem", "replyFrom": addr[0]}
    finally:
        sock.close()


for line in sys.stdin:
    try:
        req = json.loads(line)
        out = probe(req)
    except Exception as e:  # report, never die: the agent waits for an answer
        req = req if isinstance(req, dict) else {}
        out = {"outcome": "dropped", "icmp": None, "note": "helper error: %s" % e}
    out["id"] = req.get("id")
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
