"""The servers a host runs for probes (agent.py's "serve" request): each answers with the addresses it saw,
as JSON, so that a probe learns who answered and what NAT did. One daemon thread per listening socket: they
answer while the agent's main thread runs a probe (a host probing its own addresses)."""
import json, socket, threading

SOCKETS = []


def _tcp_answer(host, conn):
    """Sends what the server saw, then FIN, and closes once the client's FIN is in (as Node.js's
    `socket.end(data)` did): the client reads to EOF and closes its side (probes.py probe_tcp)."""
    try:
        src, dst = conn.getpeername(), conn.getsockname()
        seen = {"host": host, "src": "%s:%d" % src, "dst": "%s:%d" % dst}
        conn.sendall((json.dumps(seen) + "\n").encode())
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(4096):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def _tcp_loop(host, srv):
    while True:
        try:
            conn, _ = srv.accept()
        except OSError:
            return  # closed
        threading.Thread(target=_tcp_answer, args=(host, conn), daemon=True).start()


def _udp_loop(host, sock, addr, port):
    """One socket per local address, so that the answer leaves from the address the request was sent to."""
    while True:
        try:
            _, (rsrc, rport) = sock.recvfrom(65535)
        except OSError:
            return
        seen = {"host": host, "src": "%s:%d" % (rsrc, rport), "dst": "%s:%d" % (addr, port)}
        try:
            sock.sendto(json.dumps(seen).encode(), (rsrc, rport))
        except OSError:
            pass


def serve(host, tcp, udp, addrs):
    """Listens on every TCP port (all addresses) and every UDP port on each address; returns the sockets' count."""
    for port in tcp:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", int(port)))
        srv.listen(1024)
        SOCKETS.append(srv)
        threading.Thread(target=_tcp_loop, args=(host, srv), daemon=True).start()
    for port in udp:
        for addr in addrs:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((addr, int(port)))
            SOCKETS.append(sock)
            threading.Thread(target=_udp_loop, args=(host, sock, addr, int(port)), daemon=True).start()
    return len(SOCKETS)


def close_all():
    for s in SOCKETS:
        try:
            s.close()
        except OSError:
            pass
