"""The kernel's rule trace (`meta nftrace set 1` + `nft monitor`, spec/nft.md §7): one monitor at a time. A
marker table added and deleted in this namespace shows when the monitor listens, and, since netlink keeps the
order of events, that every trace of the packets before it has been read."""
import os, subprocess, threading, time

_state = {"monitor": None, "markers": 0}


class Monitor:
    def __init__(self):
        self.child = subprocess.Popen(["nft", "-a", "monitor"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL)
        self.lines = []
        self.start = 0
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.child.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()

    def seen(self, prefix, since, timeout):
        """The count of lines up to the first one after `since` that starts with prefix, or None at the timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.lines)):
                    if self.lines[i].startswith(prefix):
                        return i + 1
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def stop(self):
        self.child.kill()
        self.child.wait()


def _sync(m, run, retry_s=None):
    """Adds and deletes a marker table and waits until the monitor reports it. A monitor that is not yet
    subscribed misses the marker (a fresh `nft monitor` on a busy machine): with `retry_s`, a new marker is sent
    every `retry_s` until one is seen, which also proves the monitor listens."""
    deadline = time.monotonic() + 60
    while True:
        _state["markers"] += 1
        name = "nfc_sync_%d_%d" % (os.getpid(), _state["markers"])
        with m.cond:
            since = len(m.lines)
        for verb in ("add", "delete"):
            r = run(["nft", verb, "table", "inet", name], None)
            if r["code"] != 0:
                raise RuntimeError("nft %s table: %s" % (verb, r["stderr"]))
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("nft monitor did not report its marker within 60 s")
        at = m.seen("delete table inet %s" % name, since, left if retry_s is None else min(retry_s, left))
        if at is not None:
            return at
        if retry_s is None:
            raise RuntimeError("nft monitor did not report its marker within 60 s")


def start(run):
    if _state["monitor"]:
        _state["monitor"].stop()
    m = _state["monitor"] = Monitor()
    # the monitor subscribes some time after it starts: send markers until it reports one
    m.start = _sync(m, run, 0.3)
    return None


def stop(run):
    m = _state["monitor"]
    if not m:
        raise RuntimeError("no nft monitor running")
    to = _sync(m, run)
    m.stop()
    _state["monitor"] = None
    with m.cond:
        return [line for line in m.lines[m.start:to] if line.startswith("trace id ")]


def close():
    if _state["monitor"]:
        _state["monitor"].stop()
