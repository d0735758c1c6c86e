"""Starts the lab's agents (agent.py) by forking itself, one child per network namespace, so that no agent pays
an interpreter's start: measured, a python3 start and its imports were ~44 ms of CPU, a fork ~2 ms, and a
64-lab campaign starts ~350 agents (issue 14 §4). One launcher per campaign process, in the root namespace,
started by src/lab/agent-launcher.ts with the name of that process's abstract unix socket as argv[1].

Each stdin line {"ns": NAME, "host": HOST, "token": T} forks a child that connects to that socket (abstract
sockets belong to a network namespace: it connects before it leaves this one), says {"token": T, "pid": P},
then enters /run/netns/NAME as `ip netns exec` does (iproute2 ip/ipnetns.c netns_switch: setns, a mount
namespace of its own that is a slave of this one, and a sysfs of the namespace on /sys) and runs agent.main on
the socket. A child that cannot enter its namespace says so and exits: it never answers from this one.
A stdout line {"token": T, "error": E} is a fork that failed. The launcher exits when its stdin ends."""
import ctypes, errno, json, os, signal, socket, sys, traceback

import agent

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000  # include/uapi/linux/sched.h
MS_RDONLY, MS_REC, MS_SLAVE = 1, 1 << 14, 1 << 19  # include/uapi/linux/mount.h
MNT_DETACH = 2

libc = ctypes.CDLL(None, use_errno=True)


def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def enter(name):
    """This process into namespace `name`, as `ip netns exec` enters it; raises unless it is there."""
    path = "/run/netns/" + name
    outside = os.stat("/proc/self/ns/net").st_ino
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        check(libc.setns(fd, CLONE_NEWNET), "setns " + path)
    finally:
        os.close(fd)
    # mounts made here must not propagate back to the machine's namespace
    check(libc.unshare(CLONE_NEWNS), "unshare")
    check(libc.mount(b"", b"/", b"none", MS_SLAVE | MS_REC, None), "mount --make-rslave /")
    flags = 0
    if libc.umount2(b"/sys", MNT_DETACH) != 0 and os.statvfs("/sys").f_flag & os.ST_RDONLY:
        flags = MS_RDONLY  # no sysfs was mounted there, and / is read-only
    check(libc.mount(name.encode(), b"/sys", b"sysfs", flags, None), "mount sysfs")
    inside = os.stat("/proc/self/ns/net").st_ino
    if inside != os.stat(path).st_ino or inside == outside:
        raise OSError(0, "not in namespace %s after setns" % name)


def connect(name):
    """A socket connected to the campaign process's abstract socket `name`. An abstract name is all of the
    address's bytes: libuv (Node.js 20) binds the whole sun_path, the name padded with NULs to 108 bytes; a later
    one may bind the name alone. Each form is tried."""
    for address in (b"\0" + name, (b"\0" + name).ljust(108, b"\0")):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(address)
            return sock
        except ConnectionRefusedError:
            sock.close()
    raise ConnectionRefusedError(errno.ECONNREFUSED, "no agent socket @%s" % name.decode())


def child(name, req):
    """The forked agent: never returns."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its commands are waited for (subprocess)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 1
    sock = None
    try:
        null = os.open("/dev/null", os.O_RDWR)
        os.dup2(null, 0)  # the launcher's stdio is its parent's channel, not the agent's
        os.dup2(null, 1)
        os.close(null)
        sock = connect(name)
        out = sock.makefile("w", encoding="utf-8")
        out.write(json.dumps({"token": req["token"], "pid": os.getpid()}) + "\n")
        out.flush()
        try:
            enter(req["ns"])
        except OSError as e:
            out.write(json.dumps({"id": 0, "ok": False, "error": agent.describe(e)}) + "\n")
            out.flush()
            os._exit(1)
        agent.HOST = req["host"]
        agent.main(sock.makefile("r", encoding="utf-8"), out)
        code = 0
    except BaseException:
        try:
            if sock is not None:
                sock.sendall((json.dumps({"id": None, "ok": False, "fatal": traceback.format_exc()}) + "\n").encode())
        except OSError:
            pass
        traceback.print_exc()
    finally:
        os._exit(code)


def main():
    name = os.fsencode(sys.argv[1])
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the campaign's to handle; stdin's end stops this
    for line in sys.stdin:
        req = None
        try:
            req = json.loads(line)
            if not (isinstance(req.get("ns"), str) and agent.PATH_SEGMENT.match(req["ns"]) and isinstance(req.get("host"), str)):
                raise ValueError("bad spawn request")
            pid = os.fork()
        except (ValueError, OSError, AttributeError) as e:
            token = req.get("token") if isinstance(req, dict) else None
            sys.stdout.write(json.dumps({"token": token, "error": agent.describe(e)}) + "\n")
            sys.stdout.flush()
            continue
        if pid == 0:
            child(name, req)


if __name__ == "__main__":
    main()
