"""The lab agent: one long-lived process per network namespace, forked into it by launcher.py (or started with
`ip netns exec NS python3 agent.py HOST`: the Docker site, the unit test). It speaks JSON lines on a channel
(a socket, or stdio): {"id":1,"op":"probe",...} -> {"id":1,"ok":true,"result":{...}}, and says {"id":0,...}
once it is ready. Requests are answered one at a time, in order, but for commands ("run"), each of which
answers from a thread of its own; the servers answer from their own threads too (servers.py).

One Python process per namespace (issue 14 §4): it was a Node.js agent beside a Python probe helper, two
interpreters per namespace whose starts were most of a lab build's CPU, every probe crossed both, and each
command forked the larger Node.js process. Commands run as argument arrays, never through a shell."""
import errno, json, os, re, subprocess, sys, threading

import netlink, probes, servers, trace

HOST = sys.argv[1] if len(sys.argv) > 1 else "unknown"  # launcher.py sets it in each child
CHANNEL = {"out": sys.stdout}
PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
RECENT_LIST = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
RECENT_LINE = re.compile(r"^([+-][0-9.]{7,15}|/)$")


def run(argv, stdin):
    """Runs a command in this namespace: {code, stdout, stderr}, code 127 when it cannot start."""
    try:
        p = subprocess.run(argv, input=(stdin or "").encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        return {"code": 127, "stdout": "", "stderr": str(e)}
    code = p.returncode if p.returncode >= 0 else 1  # killed by a signal
    return {"code": code, "stdout": p.stdout.decode("utf-8", "replace"), "stderr": p.stderr.decode("utf-8", "replace")}


SYSCTL_DIRS = {}  # ("net", "ipv4") -> an open fd of that directory of this namespace


def write_sysctl(path, value):
    """One write under /proc/sys. Segments, not a dotted key: an interface name may hold dots (eth0.100); none
    may climb out of /proc/sys. Opened relative to its second-level directory (net/ipv4, net/bridge, ...), kept
    open: each namespace has its own dentry of those under one parent, and a lookup from the top compares its name
    with every namespace's (proc_sys_compare; measured ~2% of a 64-lab campaign's CPU)."""
    if not isinstance(path, list) or not all(isinstance(p, str) and PATH_SEGMENT.match(p) for p in path):
        raise ValueError("bad sysctl path %s" % json.dumps(path))
    if len(path) > 2:
        top = tuple(path[:2])
        if top not in SYSCTL_DIRS:
            SYSCTL_DIRS[top] = os.open("/proc/sys/" + "/".join(top), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd = os.open("/".join(path[2:]), os.O_WRONLY | os.O_CLOEXEC, dir_fd=SYSCTL_DIRS[top])
        except OSError as e:
            e.filename = "/proc/sys/" + "/".join(path)  # the whole path in the error, as before
            raise
    else:
        fd = os.open("/proc/sys/" + "/".join(path), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(int(value)).encode())
    finally:
        os.close(fd)


def counter(file, prefix, name):
    """One counter of a /proc/net/{snmp,netstat} pair of lines (names, then values); 0 when absent."""
    try:
        with open(file) as f:
            lines = f.read().split("\n")
        i = next(k for k, line in enumerate(lines) if line.startswith(prefix))
        names, values = lines[i].split(), lines[i + 1].split()
        return int(values[names.index(name)]) if name in names else 0
    except (OSError, StopIteration, IndexError, ValueError):
        return 0


def connections_left():
    """Does /proc/net/tcp list a socket other than a listener (its 4th column, "0A")? A request socket
    (TCP_NEW_SYN_RECV, listed as SYN_RECV by get_openreq4) resends its SYN-ACK, and a server's connection whose
    client went (CLOSING, FIN_WAIT1, LAST_ACK: data or FIN unacknowledged) retransmits, into the next case:
    measured, a server's CLOSING socket outlived a reset and its retransmission (and the ARP request before it)
    reached the next case's hosts. The table is this namespace's own (site.ts CHILD_EHASH_ENTRIES: 512 buckets);
    a reset still asks only after a TCP probe that was not delivered."""
    try:
        with open("/proc/net/tcp") as f:
            return any(line.split()[3:4] not in (["0A"], []) for line in f.read().split("\n")[1:])
    except OSError:
        return True  # unknown: the reset runs ss -K


def lab_state(requests):
    """What a reset must undo or wait out: registered iptables-legacy tables (a failed restore has committed the
    tables before the failing one), forwarded packets that met no route (each costs a token of ip_error's
    per-source bucket: net/ipv4/route.c, error_cost/error_burst, not per namespace), ICMP redirects sent (Icmp
    OutRedirects, counted in __ip_make_skb before OUTPUT: only a host that sent one holds ip_rt_send_redirect's
    per-source state), and TCP sockets other than listeners (connections_left)."""
    try:
        with open("/proc/net/ip_tables_names") as f:
            legacy = [t for t in f.read().split("\n") if t]
    except OSError:
        legacy = []
    return {
        "legacyTables": legacy,
        "inNoRoutes": counter("/proc/net/netstat", "IpExt:", "InNoRoutes"),
        "outRedirects": counter("/proc/net/snmp", "Icmp:", "OutRedirects"),
        "connections": connections_left() if requests else False,
    }


def links_up(names):
    """The interfaces among `names` whose operational state is not yet up (`ip link`'s "state UP")."""
    idle = []
    for n in names:
        if not PATH_SEGMENT.match(n):
            raise ValueError("bad interface name %s" % json.dumps(n))
        try:
            with open("/sys/class/net/%s/operstate" % n) as f:
                state = f.read().strip()
        except OSError:
            state = "absent"
        if state != "up":
            idle.append("%s %s" % (n, state))
    return idle


def recent_flush():
    try:
        names = os.listdir("/proc/net/xt_recent")
    except OSError:
        names = []
    for n in names:
        with open("/proc/net/xt_recent/" + n, "w") as f:
            f.write("/\n")
    return len(names)


def reset(req):
    """This namespace's part of a lab reset (KernelLab.reset), in one request: what the lab state was, then no
    request socket, no rules (nft, and empty chains in every registered legacy table the lab names in
    `legacyChains`), no recent lists, neighbour or conntrack entries; and whether conntrack is still hooked."""
    st = lab_state(req.get("requests") is not False)
    if st["connections"]:
        # no socket a probe left would send into the next case, as a fresh lab has none: ss -K drops a request
        # socket without a packet (tcp_abort: inet_csk_reqsk_queue_drop) and a connection with at most an RST
        run(["ss", "-K", "-tn", "exclude", "listening"], None)
    dirty = req.get("dirty") is True
    if dirty:
        run(["nft", "flush", "ruleset"], None)
    chains = req.get("legacyChains") or {}
    legacy = [t for t in st["legacyTables"] if t in chains]
    # a registered legacy table stays registered, emptied by the reset after the case that filled it: a host no
    # rule reached since (not dirty) has nothing to empty
    if legacy and dirty:
        text = "".join("*%s\n%sCOMMIT\n" % (t, "".join(":%s ACCEPT [0:0]\n" % c for c in chains[t])) for t in legacy)
        run(["iptables-legacy-restore"], text)
    recent_flush()
    # no neighbour entry of the last case, as in a fresh lab: deleting an unresolved entry answers its queue now
    # (neigh_invalidate), before conntrack is flushed
    flushed = netlink.neigh_flush()
    netlink.ct_flush()
    st["hooked"] = netlink.ct_active()
    st["legacyTables"] = legacy
    # whether this reset sent packets: the RSTs of ss -K, the host-unreachable errors of unresolved entries. Each
    # may need an ARP exchange that leaves an entry on a host whose flush already ran (arp_process: a host that
    # answers a request learns its sender), so the lab flushes every host once more (neigh-flush)
    st["sent"] = bool(st["connections"]) or flushed["unresolved"] > 0
    return st


def handle(req):
    op = req.get("op")
    if op == "hello":
        return {"host": HOST, "pid": os.getpid()}
    if op == "sysctl":
        write_sysctl(req["path"], req["value"])
        return None
    if op == "sysctls":
        # many writes in one message, in their order; an optional one may fail (IPv6 absent)
        if not isinstance(req.get("writes"), list):
            raise ValueError("sysctls: no writes")
        for w in req["writes"]:
            try:
                write_sysctl(w["path"], w["value"])
            except (OSError, ValueError):
                if w.get("optional") is not True:
                    raise
        return None
    if op == "serve":
        return {"listening": servers.serve(HOST, req.get("tcp", []), req.get("udp", []), req.get("addrs", []))}
    if op == "probe":
        try:
            return probes.probe(req)
        except Exception as e:  # a probe that could not run answers nothing: reported, as the helper did
            return {"outcome": "dropped", "icmp": None, "note": "probe error: %s" % e}
    if op == "ct-flow":
        return netlink.ct_flow(req["tuples"])  # the entries of one flow, looked up by tuple in the kernel
    if op == "conntrack":
        try:
            with open("/proc/net/nf_conntrack") as f:
                return f.read()
        except OSError:
            return ""
    if op == "reset":
        return reset(req)
    if op == "neigh-flush":
        return netlink.neigh_flush()
    if op == "links-up":
        return links_up(req.get("names", []))
    if op == "recent-write":
        # one line to /proc/net/xt_recent/LIST: "+addr", "-addr" or "/" (the list name checked again here)
        lst, line = req.get("list"), req.get("line")
        if not (isinstance(lst, str) and RECENT_LIST.match(lst) and isinstance(line, str) and RECENT_LINE.match(line)):
            raise ValueError("bad recent list or line")
        with open("/proc/net/xt_recent/" + lst, "w") as f:
            f.write(line + "\n")
        return None
    if op == "run":
        return run(req["argv"], req.get("stdin"))
    if op == "trace-start":
        return trace.start(run)
    if op == "trace-stop":
        return trace.stop(run)
    raise ValueError("unknown op %s" % op)


SEND_LOCK = threading.Lock()


def send(msg):
    line = json.dumps(msg) + "\n"
    with SEND_LOCK:
        CHANNEL["out"].write(line)
        CHANNEL["out"].flush()


def describe(e):
    """An error as the lab reads it: a system call's failure starts with its errno name (ENOENT: a recent list whose
    last rule went, run-case.ts), as Node.js wrote them."""
    if isinstance(e, OSError) and e.errno in errno.errorcode:
        where = ", '%s'" % e.filename if e.filename else ""
        return "%s: %s%s" % (errno.errorcode[e.errno], e.strerror, where)
    return str(e) or type(e).__name__


def answer(rid, req):
    try:
        send({"id": rid, "ok": True, "result": handle(req)})
    except Exception as e:  # report, never die: the lab waits for an answer
        send({"id": rid, "ok": False, "error": describe(e)})


def main(infile, outfile):
    """Answers the requests of `infile` on `outfile` (text files) until `infile` ends."""
    CHANNEL["out"] = outfile
    send({"id": 0, "ok": True, "result": {"ready": HOST}})
    for line in infile:
        try:
            req = json.loads(line)
        except ValueError:
            send({"id": None, "ok": False, "error": "bad json"})
            continue
        rid = req.get("id") if isinstance(req, dict) else None
        if isinstance(req, dict) and req.get("op") == "run":
            # a command may run for long (a server a test starts): it answers from its own thread, and the
            # requests after it go on meanwhile, as they did with the Node.js agent
            threading.Thread(target=answer, args=(rid, req), daemon=True).start()
        else:
            answer(rid, req)
    # the parent is gone: stdin closes when the lab ends or its owner dies
    servers.close_all()
    trace.close()


if __name__ == "__main__":
    main(sys.stdin, sys.stdout)
