"""Netlink requests a lab agent makes without spawning a command: conntrack entries of one flow by tuple,
`conntrack -F`, whether conntrack is hooked, and `ip -4 neigh flush all` (spec/observation.md)."""
import errno, socket, struct

from probes import ip_of

# ---- conntrack entries of one flow, by tuple (ctnetlink IPCTNL_MSG_CT_GET: a hash lookup, where
# /proc/net/nf_conntrack walks the whole machine's table; include/uapi/linux/netfilter/nfnetlink_conntrack.h)
NETLINK_NETFILTER = 12
CT_GET = (1 << 8) | 1  # NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET
CT_DELETE = (1 << 8) | 2  # IPCTNL_MSG_CT_DELETE
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NLA_F_NESTED = 0x8000
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_STATUS, CTA_PROTOINFO = 1, 2, 3, 4
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE = 4, 5, 6
IPS_SEEN_REPLY, IPS_ASSURED = 1 << 1, 1 << 2
TCP_STATES = ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT",
              "CLOSE", "SYN_SENT2"]
ICMP_INVERSE = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17}
_ct = {"sock": None, "seq": 0}


def nla(kind, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * ((4 - n % 4) % 4)


def nla_parse(b):
    out = {}
    i = 0
    while i + 4 <= len(b):
        n, kind = struct.unpack_from("=HH", b, i)
        if n < 4:
            break
        out[kind & 0x3FFF] = b[i + 4:i + n]
        i += (n + 3) & ~3
    return out


def tuple_attr(t):
    """[proto, src, sport, dst, dport] (ICMP: sport is the echo id, dport the type) -> CTA_TUPLE_* attributes."""
    proto, src, sport, dst, dport = t
    ip = nla(CTA_IP_V4_SRC, socket.inet_aton(src)) + nla(CTA_IP_V4_DST, socket.inet_aton(dst))
    p = nla(CTA_PROTO_NUM, struct.pack("B", proto))
    if proto == 1:
        p += nla(CTA_PROTO_ICMP_ID, struct.pack("!H", sport)) + nla(CTA_PROTO_ICMP_TYPE, struct.pack("B", dport))
        p += nla(CTA_PROTO_ICMP_CODE, b"\0")
    else:
        p += nla(CTA_PROTO_SRC_PORT, struct.pack("!H", sport)) + nla(CTA_PROTO_DST_PORT, struct.pack("!H", dport))
    return nla(CTA_TUPLE_IP | NLA_F_NESTED, ip) + nla(CTA_TUPLE_PROTO | NLA_F_NESTED, p)


def tuple_of(b):
    a = nla_parse(b)
    ip, pr = nla_parse(a.get(CTA_TUPLE_IP, b"")), nla_parse(a.get(CTA_TUPLE_PROTO, b""))
    src, dst = ip_of(ip[CTA_IP_V4_SRC]), ip_of(ip[CTA_IP_V4_DST])
    proto = pr[CTA_PROTO_NUM][0]
    if proto == 1:
        return [1, src, struct.unpack("!H", pr[CTA_PROTO_ICMP_ID])[0], dst, pr[CTA_PROTO_ICMP_TYPE][0]]
    if CTA_PROTO_SRC_PORT in pr:
        return [proto, src, struct.unpack("!H", pr[CTA_PROTO_SRC_PORT])[0], dst,
                struct.unpack("!H", pr[CTA_PROTO_DST_PORT])[0]]
    return [proto, src, 0, dst, 0]


def ct_get(t):
    """The confirmed entry one of whose two tuples is t (nf_conntrack_find_get), or None."""
    if _ct["sock"] is None:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        s.bind((0, 0))
        _ct["sock"] = s
    s = _ct["sock"]
    _ct["seq"] += 1
    body = struct.pack("=BBH", socket.AF_INET, 0, 0) + nla(CTA_TUPLE_ORIG | NLA_F_NESTED, tuple_attr(t))
    s.send(struct.pack("=IHHII", 16 + len(body), CT_GET, NLM_F_REQUEST, _ct["seq"], 0) + body)
    while True:
        data = s.recv(65536)
        n, kind, _, seq, _ = struct.unpack_from("=IHHII", data, 0)
        if seq != _ct["seq"]:
            continue  # a late answer to an earlier request
        if kind == NLMSG_ERROR:
            return None  # ENOENT: no such entry
        a = nla_parse(data[16 + 4:n])
        status = struct.unpack("!I", a[CTA_STATUS])[0] if CTA_STATUS in a else 0
        state = None
        if CTA_PROTOINFO in a:
            tcp = nla_parse(nla_parse(a[CTA_PROTOINFO]).get(1, b""))
            if 1 in tcp:
                state = TCP_STATES[tcp[1][0]] if tcp[1][0] < len(TCP_STATES) else str(tcp[1][0])
        flags = (["ASSURED"] if status & IPS_ASSURED else []) + ([] if status & IPS_SEEN_REPLY else ["UNREPLIED"])
        flags.sort()
        return {"orig": tuple_of(a[CTA_TUPLE_ORIG]), "reply": tuple_of(a[CTA_TUPLE_REPLY]), "state": state,
                "flags": flags}


def ct_flush():
    """conntrack -F without a process: IPCTNL_MSG_CT_DELETE with no tuple empties this namespace's IPv4 table
    (ctnetlink_flush_conntrack)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    try:
        s.bind((0, 0))
        body = struct.pack("=BBH", socket.AF_INET, 0, 0)
        s.send(struct.pack("=IHHII", 16 + len(body), CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, 1, 0) + body)
        data = s.recv(65536)
        _, kind, _, _, _ = struct.unpack_from("=IHHII", data, 0)
        code = struct.unpack_from("=i", data, 16)[0] if kind == NLMSG_ERROR else 0
        if code:
            raise OSError(-code, "conntrack flush: %s" % errno.errorcode.get(-code, str(-code)))
    finally:
        s.close()


def ct_active():
    """Is conntrack hooked in this namespace (a rule, a table or a leak holds it: nf_ct_netns_get)? A datagram
    over lo to a port nobody serves, then its tuple looked up: an entry exists only if conntrack saw it (a loopback
    send runs OUTPUT and POSTROUTING, where the entry is confirmed, before sendto returns)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.sendto(b"x", ("127.0.0.1", 9))
    finally:
        s.close()
    return ct_get([17, "127.0.0.1", port, "127.0.0.1", 9]) is not None


def inverse(t):
    proto, src, sport, dst, dport = t
    if proto == 1:
        return [1, dst, sport, src, ICMP_INVERSE.get(dport, dport)]
    return [proto, dst, dport, src, sport]


def ct_flow(tuples):
    """Every entry reachable from the tuples: an entry is found by either of its tuples, and each entry found
    adds its tuples and their inverses (the packet after this host's NAT, the reply before it)."""
    todo = [list(t) for t in tuples]
    asked = set()
    found = {}
    while todo:
        t = todo.pop()
        key = tuple(t)
        if key in asked:
            continue
        asked.add(key)
        e = ct_get(t)
        if e is None or tuple(e["orig"]) in found:
            continue
        found[tuple(e["orig"])] = e
        for x in (e["orig"], e["reply"]):
            todo += [x, inverse(x)]
    return list(found.values())


# ---- `ip -4 neigh flush all` without a process (iproute2 ip/ipneigh.c do_show_or_flush): dump the IPv4
# neighbour table, delete every entry but NOARP and PERMANENT ones with RTM_DELNEIGH (neigh_delete ->
# neigh_update(NUD_FAILED): an unresolved entry answers its queue now, neigh_invalidate), and dump again
# until nothing is left to delete, at most 10 rounds as ip does. Says how many entries it deleted, and how many
# of them were unresolved (INCOMPLETE, PROBE): only those sent anything (their queue's host-unreachable errors)
NETLINK_ROUTE = 0
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
NLM_F_DUMP = 0x300
NLMSG_DONE = 3
NDA_DST = 1
NUD_INCOMPLETE, NUD_PROBE, NUD_NOARP, NUD_PERMANENT = 0x01, 0x10, 0x40, 0x80


def neigh_flush():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    seq = 0
    deleted = unresolved = 0
    try:
        s.bind((0, 0))
        for _ in range(10):
            seq += 1
            ndmsg = struct.pack("=BBHiHBB", socket.AF_INET, 0, 0, 0, 0, 0, 0)
            s.send(struct.pack("=IHHII", 16 + len(ndmsg), RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + ndmsg)
            doomed = []
            done = False
            while not done:
                data = s.recv(1 << 16)
                i = 0
                while i + 16 <= len(data):
                    n, kind, _, mseq, _ = struct.unpack_from("=IHHII", data, i)
                    if n < 16:
                        done = True
                        break
                    if mseq == seq and kind == NLMSG_DONE:
                        done = True
                    elif mseq == seq and kind == NLMSG_ERROR:
                        code = struct.unpack_from("=i", data, i + 16)[0]
                        raise OSError(-code, "neighbour dump: %s" % errno.errorcode.get(-code, str(-code)))
                    elif mseq == seq and kind == RTM_NEWNEIGH:
                        family, _, _, ifindex, state, _, _ = struct.unpack_from("=BBHiHBB", data, i + 16)
                        dst = nla_parse(data[i + 28:i + n]).get(NDA_DST)
                        if family == socket.AF_INET and dst and not state & (NUD_NOARP | NUD_PERMANENT):
                            doomed.append((ifindex, dst))
                            unresolved += 1 if state & (NUD_INCOMPLETE | NUD_PROBE) else 0
                    i += (n + 3) & ~3
            if not doomed:
                return {"deleted": deleted, "unresolved": unresolved}
            deleted += len(doomed)
            for ifindex, dst in doomed:
                seq += 1
                body = struct.pack("=BBHiHBB", socket.AF_INET, 0, 0, ifindex, 0, 0, 0) + nla(NDA_DST, dst)
                s.send(struct.pack("=IHHII", 16 + len(body), RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
                while True:
                    data = s.recv(1 << 16)
                    _, kind, _, mseq, _ = struct.unpack_from("=IHHII", data, 0)
                    if mseq == seq and kind == NLMSG_ERROR:
                        break
                code = struct.unpack_from("=i", data, 16)[0]
                if code and -code != errno.ENOENT:  # gone meanwhile: as ip, not an error
                    raise OSError(-code, "neighbour delete: %s" % errno.errorcode.get(-code, str(-code)))
        raise OSError(errno.EBUSY, "neighbour flush: entries still came back after 10 rounds")
    finally:
        s.close()
