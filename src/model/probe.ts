// Probes: a TCP connect, a UDP request/response or an ICMP echo from one host,
// played packet by packet through the model (spec/semantics.md §8). Statistic
// rules make the result a distribution: every branch is enumerated exactly.
import { InputError } from './errors.ts';
import { parseIp, formatIp, type U32 } from './ip.ts';
import { PathRun, type Arrival, tupleOf, sourceFor, isIcmpError } from './path.ts';
import { type Pkt, TCP, DEFAULT_TTL, clonePkt, type HostState } from './eval/packet.ts';
import { type SynAckRtx, SYNACK_RETRIES, endsRequest, nextRtxAfter, rtxTiming } from './synack-rtx.ts';
import { formatTuple, PROTO_LABEL, tcpStateOf, ctFlagsOf, flowEntries, tcpMoves, type CtEntry } from './conntrack.ts';
import { type ModelLab, type World, cloneWorld } from './lab-model.ts';
import type { TraceEvent } from './trace.ts';
import {
  type Observation,
  type Outcome,
  type DropPoint,
  type Weighted,
  type ErrorReport,
  type UnknownRule,
  ICMP_UNREACH_NAMES,
} from './observation.ts';
import { foldBranches, openObservation, type Decision, type Played } from './indeterminate.ts';

export type ProbeProto = 'tcp' | 'udp' | 'icmp';

export interface Probe {
  from: string;
  proto: ProbeProto;
  dst: string;
  dport?: number;
  src?: string;
  sport?: number;
  /** UDP: false for an unconnected socket, which takes a reply from any address (default true) */
  connected?: boolean;
}

export interface ProbeRun {
  observation: Observation;
  trace: TraceEvent[];
  world: World;
  /** an indeterminate result: one exact (or open) run per entry of `observation.indeterminate.possible`;
   *  `trace` and `world` are then the first one's */
  branches?: ProbeRun[];
}

export interface ProbeOptions {
  /** report rules that did not match, too */
  verbose?: boolean;
  /** refuse to enumerate more branches than this */
  maxBranches?: number;
  /** past this many branches, a probe that asked an unknown rule gets one open result */
  maxUnknownBranches?: number;
  /** called once per branch played (for tests and profiles) */
  onBranch?: () => void;
}

const PROTO_NUM: Record<ProbeProto, number> = { tcp: 6, udp: 17, icmp: 1 };
/** Ways a resent SYN-ACK's choices can go that rtxChanges plays before it takes the read as changed */
const RTX_BRANCHES = 64;

function bad(reason: string): never {
  throw new InputError('invalid', reason, { file: '<probe>', line: 1, col: 1 });
}

interface Endpoint {
  proto: number;
  src: U32;
  sport: number;
  dst: U32;
  dport: number;
  /** UDP socket not connected: any source may answer */
  unconnected?: boolean;
}

function basePkt(e: Endpoint): Pkt {
  return {
    proto: e.proto,
    src: e.src,
    dst: e.dst,
    sport: e.sport,
    dport: e.proto === 1 ? 0 : e.dport,
    tcpFlags: 0,
    icmpType: 0,
    icmpCode: 0,
    mark: 0,
    notrack: false,
    ttl: DEFAULT_TTL,
  };
}

/** The reverse of a received packet, sent from its receiver. */
function answer(to: Pkt, patch: Partial<Pkt>): Pkt {
  return {
    proto: to.proto,
    src: to.dst,
    dst: to.src,
    sport: to.dport,
    dport: to.sport,
    tcpFlags: 0,
    icmpType: 0,
    icmpCode: 0,
    mark: 0,
    notrack: false,
    ttl: DEFAULT_TTL,
    ...patch,
  };
}

interface Ending {
  outcome: Outcome;
  responder: string | null;
  seen: Pkt | null;
  icmp: string | null;
  drop: DropPoint | null;
  replyFrom?: U32;
  error?: ErrorReport;
}

/** The reset or ICMP error as the client received it; `errno` when its own send was refused too. */
function errorOf(p: Pkt, errno: string | null): ErrorReport {
  if (p.proto === 6) return { kind: 'tcp-reset', from: formatIp(p.src), type: null, code: null, quoted: null, errno };
  const q = p.embedded;
  return {
    kind: 'icmp',
    from: formatIp(p.src),
    type: p.icmpType,
    code: p.icmpCode,
    quoted: q ? `${PROTO_LABEL[q.proto] ?? q.proto} ${formatTuple(q)}` : null,
    errno,
  };
}

const localError = (errno: string): ErrorReport => ({
  kind: 'local',
  from: null,
  type: null,
  code: null,
  quoted: null,
  errno,
});

/** nf_hook_slow turns NF_DROP into -EPERM for the sender: a UDP or ICMP send dropped (or REJECTed) in the
 *  client's own OUTPUT or POSTROUTING fails at once. TCP's connect ignores it and retransmits the SYN
 *  (tcp_connect returns only -ECONNREFUSED), so it stays silent (measured: spec/observation.md). */
function sendErrno(client: string, proto: number, a: Extract<Ended, { kind: 'dropped' | 'rejected' }>): string | null {
  return proto !== 6 && a.atSend && a.host === client ? 'EPERM' : null;
}

/** Does the kernel answer this refused packet? Not a reset with a reset (nf_send_reset: `if (oth->rst)`), not an
 *  ICMP error with an ICMP error (__icmp_send); a REJECT's tcp-reset only loads for TCP rules. */
function answerable(a: Extract<Ended, { kind: 'rejected' }>): boolean {
  if (a.with === 'tcp-reset') return a.pkt.proto === 6 && (a.pkt.tcpFlags & TCP.RST) === 0;
  return !isIcmpError(a.pkt);
}

/** The name of an ICMP error (spec/observation.md): destination-unreachable codes by name, then types. */
function icmpName(p: Pkt): string {
  if (p.icmpType === 3) return ICMP_UNREACH_NAMES[p.icmpCode] ?? `code-${p.icmpCode}`;
  return p.icmpType === 11 ? 'time-exceeded' : p.icmpType === 12 ? 'parameter-problem' : `type-${p.icmpType}`;
}

function dropPointOf(a: Ended): DropPoint {
  if (a.kind === 'dropped') {
    return {
      host: a.host,
      hook: a.hook ?? null,
      table: a.table ?? null,
      chain: a.chain ?? null,
      rule: a.rule ?? null,
      reason: a.hook ? null : a.reason,
    };
  }
  if (a.kind === 'local')
    return {
      host: a.host,
      hook: null,
      table: null,
      chain: null,
      rule: null,
      reason: `arrived at ${a.host}, where no socket expects it`,
    };
  if (a.kind === 'no-route')
    return { host: a.host, hook: null, table: null, chain: null, rule: null, reason: 'no route' };
  // the rule that REJECTed it (an iptables REJECT or an nft reject), else routing's own error
  if (a.by) return { host: a.host, ...a.by, reason: null };
  return { host: a.host, hook: null, table: null, chain: null, rule: null, reason: `rejected with ${a.with}` };
}

function dropped(a: Ended): Ending {
  return { outcome: 'dropped', responder: null, seen: null, icmp: null, drop: dropPointOf(a) };
}

/** The error a dropped first packet gives its own send: the stack's (a failed reroute), or a rule's EPERM. */
function droppedSendErrno(a: Ended, client: string, proto: number): string | null {
  if (a.kind !== 'dropped' || a.silent) return null;
  if (a.errno) return proto !== 6 && a.host === client ? a.errno : null;
  return sendErrno(client, proto, a);
}

/** The first packet never left the client: its send failed (EPERM, or the reroute's EINVAL), or went silently
 *  (TCP retransmits). */
function droppedFirst(a: Ended, client: string, proto: number): Ending {
  const end = dropped(a);
  const errno = droppedSendErrno(a, client, proto);
  if (errno) end.error = localError(errno);
  // the lab reports a send refused for want of a route as the net-unreachable it stands for (agent/probes.py)
  if (errno === 'ENETUNREACH') return { ...end, outcome: 'icmp-error', icmp: 'net-unreachable' };
  return end;
}

/** Where a journey the model could follow ended. */
type Ended = Exclude<Arrival, { kind: 'unknown' }>;

/** Thrown out of a journey when an unmodelled target took a packet (spec/semantics.md §10). */
class FateUnknown {
  constructor(readonly rule: UnknownRule) {}
}

/** One deterministic journey of the probe through the model. */
class ProbePlay {
  /** the client's connect() completed: whatever happens next, it closes the connection (FIN) */
  handshake = false;
  /** a RST reset the client's socket: it sends no FIN */
  reset = false;
  /** the server accepted: the handshake's ACK as it reached the server */
  private accepted: Pkt | undefined;
  /** the client took this SYN-ACK but its ACK never reached the server, whose request still waits */
  private ackLost: SynAckRtx | undefined;
  /** the server's answer reached the client */
  private answered = false;
  /** the entries the handshake's ACK and the server's answer passed (close: what retransmissions pass again) */
  private handshakeAck: Set<CtEntry> | undefined;
  private answerHit: Set<CtEntry> | undefined;
  /** the client's own ACK of the answer, and the entries it passed */
  private dataAck: { a: Ended; hit: Set<CtEntry> } | undefined;
  /** the server's stack and the first packet as it saw it */
  private server: string | undefined;
  private seen: Pkt | undefined;
  /** resent SYN-ACKs of earlier probes that may come at any packet of this one (offerRtx) */
  private maybeRtx: SynAckRtx[] = [];
  /** a resent SYN-ACK is being played: its packets are not offered the others */
  private inRtx = false;
  /** the requests that were waiting when this probe began: any other one is this probe's own (beforeRead) */
  private earlier: ReadonlySet<SynAckRtx> = new Set();

  constructor(
    private readonly run: PathRun,
    private readonly lab: ModelLab,
  ) {}

  private stage(name: string, p: Pkt): void {
    this.run.trace.push({
      kind: 'stage',
      name,
      packet:
        `${p.proto === 6 ? 'tcp' : p.proto === 17 ? 'udp' : 'icmp'} ` +
        `${formatIp(p.src)}${p.proto !== 1 ? `:${p.sport}` : ''} > ` +
        `${formatIp(p.dst)}${p.proto !== 1 ? `:${p.dport}` : ''}`,
    });
  }

  /** `sock`: the socket the packet leaves with (xt_owner): a process's (the lab's probes and servers), a kernel
   *  control socket's (resets and ICMP errors of the stack, echo replies), or none (REJECT's tcp-reset) */
  private send(
    host: string,
    p: Pkt,
    name: string,
    ct?: Parameters<PathRun['localOut']>[2],
    sock: 'process' | 'kernel' | 'none' = 'process',
  ): Ended {
    if (sock !== 'none') p.sock = { host, kind: sock };
    this.offerRtx();
    this.stage(`${name} from ${host}`, p);
    const a = this.run.localOut(host, p, ct);
    // an unmodelled target took one of the probe's packets: the probe's result is open from here on
    if (a.kind === 'unknown') throw new FateUnknown(a.rule);
    return a;
  }

  private ownerOf(addr: U32): string | null {
    for (const h of this.lab.net.hosts.values()) if (addr !== 0x7f000001 && h.local.has(addr)) return h.name;
    return null;
  }

  private listens(host: string, proto: number, port: number): boolean {
    const h = this.lab.net.hosts.get(host)!;
    return h.servers.some((s) => PROTO_NUM[s.proto] === proto && s.port === port);
  }

  /** Does a packet that reached the client belong to the probe's socket? */
  private forClient(a: Arrival, client: string, e: Endpoint): a is Extract<Arrival, { kind: 'local' }> {
    if (a.kind !== 'local' || a.host !== client) return false;
    const p = a.pkt;
    if (p.proto === 1 && p.embedded) {
      const q = p.embedded;
      // a TCP socket hears an error only through its own connection (tcp_v4_err looks the quoted 4-tuple up);
      // for a UDP probe the client's stack is read (spec/observation.md, agent/probes.py icmp_error): an error
      // quoting the probe's source address and port counts whatever destination it quotes, e.g. one not
      // un-DNATed on its way back (bridged past conntrack with bridge-nf-call-iptables=0)
      if (q.proto !== e.proto) return false;
      // an echo's error is the probe's by the quoted echo's id, whatever addresses it quotes, as for the kernel's
      // ping socket (ping_err -> ping_lookup) and the lab's raw one: an error sent back past the host that DNATed
      // the echo quotes the new destination (kernel campaign seed 20261320)
      if (e.proto === 1) return q.sport === e.sport && q.dport === 8;
      if (q.src !== e.src) return false;
      if (e.proto === 17) return q.sport === e.sport;
      return q.dst === e.dst && q.sport === e.sport && q.dport === e.dport;
    }
    // an unconnected UDP socket takes a datagram from any address (__udp4_lib_lookup scores the peer only
    // when connected)
    if (e.unconnected && p.proto === 17) return p.dst === e.src && p.dport === e.sport;
    // an echo reply is the client's when its id is (the probe's raw ICMP socket, like ping, matches the id and
    // sequence only): a reply from another address than the one pinged counts, e.g. an endpoint's reply bridged
    // back past conntrack (bridge-nf-call-iptables=0), which nobody un-DNATs (spec/observation.md)
    if (e.proto === 1) return p.proto === 1 && p.icmpType === 0 && p.sport === e.sport;
    if (p.proto !== e.proto || p.src !== e.dst || p.dst !== e.src) return false;
    return p.sport === e.dport && p.dport === e.sport;
  }

  /** A REJECT's answer travels back; the client sees it only if it refers to its socket. */
  private rejected(a: Extract<Arrival, { kind: 'rejected' }>, client: string, e: Endpoint, first: boolean): Ending {
    const back = this.answer(a);
    const drop = dropPointOf(a);
    // REJECT returns NF_DROP after answering: in the client's own OUTPUT, its send failed as well
    const errno = first ? sendErrno(client, e.proto, a) : null;
    if (!this.forClient(back, client, e)) {
      const end: Ending = { outcome: 'dropped', responder: null, seen: null, icmp: null, drop };
      if (errno) end.error = localError(errno);
      return end;
    }
    const error = errorOf(back.pkt, errno);
    const replyFrom = back.pkt.src;
    if (back.pkt.proto === 6)
      return { outcome: 'refused', responder: null, seen: null, icmp: null, drop, error, replyFrom };
    const name = icmpName(back.pkt);
    return {
      outcome: name === 'port-unreachable' ? 'refused' : 'icmp-error',
      responder: null,
      seen: null,
      icmp: name,
      drop,
      error,
      replyFrom,
    };
  }

  /** A REJECT's answer that no socket of the client waits for still goes its way: its RST resets the
   *  connections it passes, and nf_send_reset set the rejected packet's connection closing. A TCP segment that
   *  reached a host's stack where no socket takes it (a SYN-ACK to a 127/8 source answered on the server's own
   *  loopback, say) is answered with a RST (tcp_v4_send_reset: RST alone for a segment with ACK), which moves
   *  the connections it passes too. */
  private answerAway(a: Arrival): Ended | undefined {
    if (a.kind === 'local') {
      const p = a.pkt;
      if (p.proto !== 6 || p.tcpFlags & TCP.RST) return undefined;
      const rst = answer(p, { tcpFlags: p.tcpFlags & TCP.ACK ? TCP.RST : TCP.RST | TCP.ACK });
      return this.send(a.host, rst, 'RST (no socket)', undefined, 'kernel');
    }
    if (a.kind === 'rejected') return this.answer(a);
    return undefined;
  }

  /**
   * Sends the answer of a refused packet and returns where it ended. nf_send_reset builds its reset without a
   * socket; nf_send_unreach goes through icmp_send's control socket. An answer that a REJECT refuses in turn is
   * answered too, as the kernel does: its connection rides along (nf_ct_attach, icmp_glue_bits), so an ICMP
   * error about a REJECT's reset confirms the rejected packet's connection, being of the original direction.
   * The chain ends there: no reset answers a reset (nf_send_reset) and no ICMP error answers an ICMP error
   * (__icmp_send).
   */
  private answer(a: Extract<Arrival, { kind: 'rejected' }>): Ended {
    const err = this.run.errorFor(a);
    const back = this.sendAnswer(a, err);
    if (back.kind === 'rejected' && answerable(back)) this.answer(back);
    return back;
  }

  /** A reset to a packet bridged into the IPv4 hooks leaves straight out of the port it came in on
   *  (PathRun.resetOutOfPort); any other answer is sent as the host's own packet. */
  private sendAnswer(a: Extract<Arrival, { kind: 'rejected' }>, err: ReturnType<PathRun['errorFor']>): Ended {
    if (a.with !== 'tcp-reset' || !a.physIn)
      return this.send(a.host, err.pkt, a.with, err.ct, err.pkt.proto === 6 ? 'none' : 'kernel');
    this.stage(`${a.with} from ${a.host}`, err.pkt);
    const out = this.run.resetOutOfPort(a.host, a.physIn, err.pkt);
    if (out.kind === 'unknown') throw new FateUnknown(out.rule);
    return out;
  }

  /** Did a packet of the client's connection reach the server's socket? */
  private reachesServer(a: Arrival): a is Extract<Arrival, { kind: 'local' }> {
    const seen = this.seen!;
    return (
      a.kind === 'local' &&
      a.host === this.server &&
      a.pkt.dport === seen.dport &&
      a.pkt.src === seen.src &&
      a.pkt.sport === seen.sport
    );
  }

  /** One packet of the close: where it ended, and the entries it passed; a REJECT on the way answers it as any
   *  other packet (a reset ends the exchange: no side retransmits to a reset socket). */
  private closePacket(host: string, p: Pkt, name: string, answerReject = true): { a: Ended; hit: Set<CtEntry> } {
    const prev = this.run.tap;
    const hit = new Set<CtEntry>();
    this.run.tap = hit;
    let a: Ended;
    try {
      a = this.send(host, p, name);
    } finally {
      this.run.tap = prev;
      if (prev) for (const x of hit) prev.add(x);
    }
    if (answerReject && a.kind === 'rejected') {
      if (a.with === 'tcp-reset') this.reset = true;
      this.answer(a);
    }
    return { a, hit };
  }

  /**
   * The FIN exchange once connected, packet by packet, each moving the entries it passes (tcpCloseStep): the
   * lab's server writes its answer and closes (agent/servers.py: a FIN after the data), the client ACKs what it
   * gets and closes once it has read the answer or given up (agent/probes.py probe_tcp), and a FIN that gets
   * there is ACKed. Then what the retransmissions of whatever was not acknowledged can still do to each entry
   * (its `moves`): the client's FIN again, the server's SYN-ACK (it never got the handshake's ACK), data or FIN
   * again, each answered by the client's ACK when it gets there (measured: FIN_WAIT, then LAST_ACK when the
   * FIN is sent again, then TIME_WAIT once the server's SYN-ACK is ACKed again).
   */
  close(client: string, e: Endpoint): void {
    if (!this.handshake || this.reset) return;
    const server = this.server!;
    const ops = new Map<CtEntry, Set<'fin' | 'ack'>>();
    const may = (hit: ReadonlySet<CtEntry> | undefined, op: 'fin' | 'ack') => {
      for (const x of hit ?? []) {
        let o = ops.get(x);
        if (!o) ops.set(x, (o = new Set()));
        o.add(op);
      }
    };
    const fromClient = (flags: number) => {
      const p = basePkt(e);
      p.tcpFlags = flags;
      return p;
    };
    let serverFin: { a: Ended; hit: Set<CtEntry> } | undefined;
    let clientAck: { a: Ended; hit: Set<CtEntry> } | undefined;
    if (this.accepted) {
      serverFin = this.closePacket(server, answer(this.accepted, { tcpFlags: TCP.FIN | TCP.ACK }), 'FIN (server)');
      // its ACK waits (tcp_fin enters pingpong mode: a delayed ACK) and rides on the client's FIN, which the
      // probe sends at once (measured); a FIN before its answer (out of order) is answered at once, with the
      // ACK of what came in order (tcp_data_queue_ofo)
      if (!this.reset && !this.answered && this.forClient(serverFin.a, client, e))
        clientAck = this.closePacket(client, fromClient(TCP.ACK), "ACK (the server's FIN came before its answer)");
    }
    if (this.reset) return;
    if (this.ackLost) {
      // the client waited for an answer (4 probe timeouts: 1 s) and closes about when the server's request resends
      // its SYN-ACK (1 s after the first): which comes first is open, and a connected client's answer to a resent
      // SYN-ACK (an ACK that may complete the handshake) is not followed (spec/semantics.md §8.1)
      const rule = timerRule(this.ackLost, "the time of the request's timer against the client's FIN");
      if (this.run.decide(rule)) throw new FateUnknown(rule);
    }
    const clientFin = this.closePacket(client, fromClient(TCP.FIN | TCP.ACK), 'FIN');
    const fin = clientFin.a;
    const finIn = this.reachesServer(fin);
    if (this.ackLost && finIn) {
      this.finCompletesHandshake(client, e, fin);
      return;
    }
    const serverAck =
      finIn && fin.kind === 'local'
        ? this.closePacket(server, answer(fin.pkt, { tcpFlags: TCP.ACK }), "ACK of the client's FIN")
        : undefined;
    if (this.reset) return;
    // the client's FIN acknowledges the answer and the server's FIN, once the answer came
    const ackedByClient = finIn && this.answered;
    // the path of the client's ACKs (a retransmission's answer goes that way)
    const ackPath = clientAck?.hit ?? this.dataAck?.hit ?? clientFin.hit;
    // the server never got the handshake's ACK: its SYN-ACK comes again, and the client ACKs it again
    if (!this.accepted) may(this.handshakeAck, 'ack');
    // the answer or the server's FIN not acknowledged: sent again (an ACK|PSH, a FIN), answered when it gets there
    if (this.accepted && !(this.answered && ackedByClient)) {
      may(this.answerHit, 'ack');
      if (this.answered) may(ackPath, 'ack');
    }
    if (serverFin && !(this.forClient(serverFin.a, client, e) && ackedByClient)) {
      may(serverFin.hit, 'fin');
      if (this.forClient(serverFin.a, client, e)) may(ackPath, 'ack');
    }
    // the client's FIN not acknowledged: sent again
    if (!(serverAck && this.forClient(serverAck.a, client, e))) may(clientFin.hit, 'fin');
    setMoves(ops);
  }

  /**
   * The client's FIN reached a server that never got the handshake's ACK: the FIN's ACK completes it
   * (tcp_check_req) and the server takes the FIN; its program accepts and answers at once, the answer carrying the
   * FIN's ACK (tcp_fin delays a bare one), and closes. The client has closed: data after its FIN is answered with a
   * RST (tcp_rcv_state_process, TCPAbortOnData), which ends the server's connection before its FIN (measured:
   * kernel campaign seed 20261320, the node's entry made by the answer and deleted by the RST).
   */
  private finCompletesHandshake(client: string, e: Endpoint, fin: Extract<Arrival, { kind: 'local' }>): void {
    const server = this.server!;
    const data = this.closePacket(
      server,
      answer(fin.pkt, { tcpFlags: TCP.ACK | TCP.PSH }),
      "data reply, with the ACK of the client's FIN (the FIN completed the handshake)",
    );
    if (this.reset) return;
    const ops = new Map<CtEntry, Set<'fin' | 'ack'>>();
    if (this.forClient(data.a, client, e)) {
      const rst = basePkt(e);
      rst.tcpFlags = TCP.RST;
      const back = this.closePacket(client, rst, 'RST (data after the client closed)');
      if (this.reset || this.reachesServer(back.a)) return;
      // the RST lost: the server sends its answer again, each answered by a RST, and then its FIN
      for (const x of data.hit) ops.set(x, new Set(['ack', 'fin']));
    } else {
      // the answer lost: its FIN follows at once; both are sent again
      const serverFin = this.closePacket(server, answer(fin.pkt, { tcpFlags: TCP.FIN | TCP.ACK }), 'FIN (server)');
      for (const x of [...data.hit, ...serverFin.hit]) ops.set(x, new Set(['ack', 'fin']));
    }
    setMoves(ops);
  }

  private keepRtx(x: SynAckRtx): void {
    const w = this.run.world;
    w.synAcks = [...(w.synAcks ?? []), x];
  }

  /** Resends x's SYN-ACK from the server: it passes the rules again; a client that takes it has closed its
   *  socket and answers with a RST, which ends the request where it gets there; else the next one is due. */
  playRtx(x: SynAckRtx): void {
    const w = this.run.world;
    w.synAcks = (w.synAcks ?? []).filter((y) => y !== x);
    this.inRtx = true;
    try {
      const a = this.send(x.server, clonePkt(x.pkt), `SYN-ACK resent ${nextRtxAfter(x)} s after the first`);
      const back = this.answerAway(a);
      const ended = back?.kind === 'local' && back.host === x.server && endsRequest(x, back.pkt);
      if (!ended && x.sent + 1 < SYNACK_RETRIES) this.keepRtx({ ...x, sent: x.sent + 1 });
    } finally {
      this.inRtx = false;
    }
  }

  /**
   * Before the probe's first packet: every resent SYN-ACK surely gone by now (a wait covered it) is played; one
   * whose time is open is played now too if it moves no state a later packet reads (inert), else it may come at
   * any packet of this probe or after it (offerRtx), each followed as an unknown (spec/semantics.md §8.1).
   */
  startRtx(inert: (x: SynAckRtx) => boolean): void {
    this.earlier = new Set(this.run.world.synAcks ?? []);
    for (;;) {
      const sure = (this.run.world.synAcks ?? []).find((x) => rtxTiming(x, this.run.world.now) === 'sure');
      if (!sure) break;
      this.playRtx(sure);
    }
    for (const x of this.run.world.synAcks ?? []) {
      if (inert(x)) this.playRtx(x);
      else this.maybeRtx.push(x);
    }
  }

  /** A resent SYN-ACK whose time is open may come before this packet: both are followed. */
  private offerRtx(): void {
    if (this.inRtx) return;
    for (const x of [...this.maybeRtx]) {
      if (!this.run.decide(timerRule(x, "the time of the request's timer against this probe's packets"))) continue;
      this.maybeRtx = this.maybeRtx.filter((y) => y !== x);
      this.playRtx(x);
    }
  }

  /**
   * The lab reads the probe's conntrack entries after its last packet, at a time of its own: a resent SYN-ACK whose
   * time is open may come before the read, this probe's own request's first one too (1 s after its SYN-ACK; the
   * probe gives up below that, but a loaded machine reads later). Where playing it would change what is read
   * (`changes`), both are followed (spec/semantics.md §8.1; kernel campaign seed 20261320 on 64 labs: node read
   * CLOSE, the client's RST to the resent SYN-ACK, where the model had the SYN_RECV of the first).
   */
  beforeRead(changes: (x: SynAckRtx) => boolean): void {
    const own = (this.run.world.synAcks ?? []).filter((x) => !this.earlier.has(x) && x.sent === 0);
    for (const x of [...this.maybeRtx, ...own]) {
      if (!changes(x)) continue;
      if (!this.run.decide(timerRule(x, "the time of the request's timer against the lab's read of conntrack")))
        continue;
      this.maybeRtx = this.maybeRtx.filter((y) => y !== x);
      this.playRtx(x);
    }
  }

  play(client: string, e: Endpoint): Ending {
    const first = basePkt(e);
    if (e.proto === 6) first.tcpFlags = TCP.SYN;
    if (e.proto === 1) first.icmpType = 8;
    const a1 = this.send(client, first, e.proto === 6 ? 'SYN' : e.proto === 17 ? 'request' : 'echo request');
    if (a1.kind === 'no-route')
      return {
        outcome: 'icmp-error',
        responder: null,
        seen: null,
        icmp: 'net-unreachable',
        drop: null,
        error: localError('ENETUNREACH'),
      };
    if (a1.kind === 'rejected') return this.rejected(a1, client, e, true);
    if (a1.kind === 'dropped') return droppedFirst(a1, client, e.proto);
    // the first packet reached a host's local stack
    const server = a1.host;
    const seen = { ...a1.pkt };
    if (e.proto === 1) {
      const rep = this.send(
        server,
        answer(a1.pkt, { icmpType: 0, sport: a1.pkt.sport, dport: 0 }),
        'echo reply',
        undefined,
        'kernel',
      );
      // who answered, as the client can tell: the owner of the reply's source address
      // no server reports what it saw for an echo: seen stays empty, as in the lab
      if (this.forClient(rep, client, e))
        return {
          outcome: 'echo-reply',
          responder: this.ownerOf(rep.pkt.src),
          seen: null,
          icmp: null,
          drop: null,
          replyFrom: rep.pkt.src,
        };
      return dropped(rep);
    }
    if (!this.listens(server, e.proto, a1.pkt.dport)) {
      const refusal =
        e.proto === 6
          ? answer(a1.pkt, { tcpFlags: TCP.RST | TCP.ACK })
          : answer(a1.pkt, { proto: 1, sport: 0, dport: 0, icmpType: 3, icmpCode: 3, embedded: tupleOf(a1.pkt) });
      const back = this.send(
        server,
        refusal,
        e.proto === 6 ? 'RST (no listener)' : 'ICMP port unreachable (no listener)',
        undefined,
        'kernel',
      );
      if (this.forClient(back, client, e))
        return {
          outcome: 'refused',
          responder: null,
          seen: null,
          icmp: e.proto === 6 ? null : 'port-unreachable',
          drop: null,
          error: errorOf(back.pkt, null),
          replyFrom: back.pkt.src,
        };
      return dropped(back);
    }
    if (e.proto === 17) {
      const resp = this.send(server, answer(a1.pkt, {}), 'response');
      if (this.forClient(resp, client, e))
        return { outcome: 'delivered', responder: server, seen, icmp: null, drop: null, replyFrom: resp.pkt.src };
      return dropped(resp);
    }
    const synAckPkt = answer(a1.pkt, { tcpFlags: TCP.SYN | TCP.ACK });
    const sent = clonePkt(synAckPkt);
    const synAck = this.send(server, synAckPkt, 'SYN-ACK');
    if (!this.forClient(synAck, client, e)) {
      const back = this.answerAway(synAck);
      // the client never took it: the request's timer sends it again (synack-rtx.ts)
      const x: SynAckRtx = { server, pkt: sent, at: this.run.world.now, sent: 0 };
      if (!(back?.kind === 'local' && back.host === server && endsRequest(x, back.pkt))) this.keepRtx(x);
      return dropped(synAck);
    }
    this.handshake = true;
    this.server = server;
    this.seen = seen;
    // the lab's client sends nothing: the handshake's last ACK lets the server accept, and the server writes
    // its answer at once (agent/servers.py)
    const ack = basePkt(e);
    ack.tcpFlags = TCP.ACK;
    const { a: a3, hit } = this.closePacket(client, ack, 'ACK', false);
    this.handshakeAck = hit;
    if (a3.kind === 'rejected') {
      // the answer reaches a connected socket that has IP_RECVERR: tcp_v4_err reports any ICMP error (and a
      // RST resets it), so the client's wait for the answer ends with it (agent/probes.py)
      const end = this.rejected(a3, client, e, false);
      if (end.error?.kind === 'tcp-reset') this.reset = true;
      return end;
    }
    if (!this.reachesServer(a3)) {
      this.ackLost = { server, pkt: sent, at: this.run.world.now, sent: 0 };
      return dropped(a3);
    }
    this.accepted = a3.pkt;
    const { a: data, hit: dataHit } = this.closePacket(
      server,
      answer(a3.pkt, { tcpFlags: TCP.ACK | TCP.PSH }),
      'data reply',
      false,
    );
    this.answerHit = dataHit;
    if (!this.forClient(data, client, e)) {
      this.answerAway(data);
      return dropped(data);
    }
    this.answered = true;
    // the client ACKs the answer at once, in a segment of its own: a new connection's receiver is in quick-ACK
    // mode (tcp_event_data_recv: tcp_incr_quickack on the first data; measured with tcpdump in the lab)
    const ack2 = basePkt(e);
    ack2.tcpFlags = TCP.ACK;
    this.dataAck = this.closePacket(client, ack2, 'ACK of the answer');
    return { outcome: 'delivered', responder: server, seen, icmp: null, drop: null, replyFrom: data.pkt.src };
  }
}

function endpoint(
  a: U32,
  port: number | undefined,
  range: readonly [number, number] | undefined,
  proto: number,
): string {
  if (proto === 1 || port === undefined) return formatIp(a);
  return `${formatIp(a)}:${range ? `${range[0]}-${range[1]}` : port}`;
}

type CtRecord = Observation['conntrack'][string][number];

/**
 * The entry as an observation shows it, made afresh: an observation shows only its probe's own flow
 * (observe), so no cache is needed; one keyed by entry held a record for every connection the world
 * remembers, half of a repeated probe's memory (issue 17).
 */
function recordOf(e: CtEntry): CtRecord {
  // a port picked at random (here, or upstream) is shown as its range on both tuples
  const upstream = e.origSportRange && e.reply.dport === e.orig.sport ? e.origSportRange : undefined;
  const rec: CtRecord = {
    proto: PROTO_LABEL[e.orig.proto] ?? `${e.orig.proto}`,
    orig: formatTuple(e.orig, undefined, e.origSportRange),
    reply: formatTuple(e.reply, e.randomPort ?? upstream, e.randomDstPort),
    state: e.orig.proto === 6 ? tcpStateOf(e) : null,
    flags: ctFlagsOf(e),
  };
  // a closed connection (TIME_WAIT, CLOSE) moves no more
  if (e.moves && !e.closed) rec.moves = [...e.moves];
  return rec;
}

/** The observation; its conntrack entries are the probe's flow's (those reached from `start`, its tuple). */
function observe(lab: ModelLab, world: World, end: Ending, start: Endpoint): Observation {
  const conntrack: Observation['conntrack'] = {};
  // a host whose rules no longer need conntrack keeps its entries until they expire (the rule's destroy
  // calls nf_ct_netns_put, which unregisters the hooks, not the table: nf_conntrack_proto.c), so a host is
  // listed while conntrack runs there or while it still holds entries
  const all = [...world.hosts.keys()].sort();
  const first = basePkt(start);
  if (start.proto === 1) first.icmpType = 8; // an echo request, as play() sends it
  const flow = flowEntries(new Map(all.map((h) => [h, world.hosts.get(h)!.ct])), tupleOf(first), world.now);
  const hosts = all.filter((h) => lab.ctEnabled.has(h) || flow.get(h)!.length > 0);
  for (const h of hosts)
    conntrack[h] = flow
      .get(h)!
      .map(recordOf)
      .sort((a, b) => (a.orig < b.orig ? -1 : a.orig > b.orig ? 1 : 0));
  const s = end.seen;
  return {
    outcome: end.outcome,
    responder: end.responder,
    seen: s
      ? { src: endpoint(s.src, s.sport, s.sportRange, s.proto), dst: endpoint(s.dst, s.dport, s.dportRange, s.proto) }
      : null,
    icmp: end.icmp,
    replyFrom: end.replyFrom === undefined ? null : formatIp(end.replyFrom),
    error: end.error ?? null,
    conntrack,
    droppedAt: end.drop,
  };
}

export function resolveProbe(lab: ModelLab, world: World, probe: Probe): { client: string; e: Endpoint } {
  if (!lab.net.hosts.has(probe.from))
    bad(`probe: unknown host "${probe.from}" (hosts: ${[...lab.net.hosts.keys()].join(', ')})`);
  const dst = parseIp(probe.dst) ?? bad(`probe: bad destination address "${probe.dst}"`);
  const proto = PROTO_NUM[probe.proto] ?? bad(`probe: unknown protocol "${probe.proto}" (tcp, udp or icmp)`);
  if (proto !== 1 && (probe.dport === undefined || probe.dport < 1 || probe.dport > 65535))
    bad(`probe: ${probe.proto} needs a destination port 1-65535`);
  const src =
    probe.src === undefined
      ? (sourceFor(lab.net.hosts.get(probe.from)!, dst) ?? 0)
      : (parseIp(probe.src) ?? bad(`probe: bad source address "${probe.src}"`));
  const sport = probe.sport ?? world.nextPort;
  if (sport < 1 || sport > 65535) bad(`probe: source port ${sport} out of range`);
  if (probe.connected === false && proto !== 17) bad('probe: only a UDP probe can be unconnected');
  const e: Endpoint = { proto, src, sport, dst, dport: probe.dport ?? 0 };
  if (probe.connected === false) e.unconnected = true;
  return { client: probe.from, e };
}

/**
 * Runs a probe from `world` and returns every possible result with its exact
 * probability. `world` is not changed; each result carries its own next world.
 */
export function runProbe(lab: ModelLab, world: World, probe: Probe, opts: ProbeOptions = {}): Weighted<ProbeRun>[] {
  const { client, e } = resolveProbe(lab, world, probe);
  // an earlier probe's waiting packets went out, not followed (path.ts releaseQueue): whatever this one meets
  if (world.unfollowed) {
    const w = cloneWorld(world);
    if (probe.sport === undefined) w.nextPort++;
    w.probes = (w.probes ?? 0) + 1;
    const u = world.unfollowed;
    // the rule that left an earlier packet unfollowed decides this probe's fate as well
    const trace: TraceEvent[] = [{ kind: 'unknown', branch: 'fate unknown', ...u }];
    return [{ p: 1, value: { observation: openObservation(e.proto, u), trace, world: w } }];
  }
  const maxBranches = opts.maxBranches ?? 4096;
  // an unknown rule is asked again by every packet of the exchange: its branches double per packet and rarely
  // fold back to an exact result, so they are cut sooner than probabilistic ones (spec/semantics.md §10)
  const maxUnknownBranches = Math.min(maxBranches, opts.maxUnknownBranches ?? 256);
  const played: Played<ProbeRun>[] = [];
  let unknowns = false;
  let asked: UnknownRule | undefined;
  let prefix: boolean[] = [];
  for (let branch = 0; ; branch++) {
    if (branch >= maxBranches || (asked && branch >= maxUnknownBranches)) {
      // past the bound the result is open (every outcome possible), not an error
      const first = played[0];
      if (asked && first) {
        const observation = openObservation(e.proto, asked);
        return [{ p: 1, value: { observation, trace: first.run.trace, world: first.world } }];
      }
      throw new InputError('invalid', `more than ${maxBranches} probabilistic branches`, {
        file: '<probe>',
        line: 1,
        col: 1,
      });
    }
    opts.onBranch?.();
    const decisions: Decision[] = [];
    const next = (): boolean => {
      const i = decisions.length;
      return i < prefix.length ? prefix[i]! : true;
    };
    const choose = (p: number, label: string): boolean => {
      if (p <= 0 || p >= 1) return p >= 1;
      const taken = next();
      decisions.push({ kind: 'chance', taken, p });
      run.trace.push({ kind: 'choice', label, p, taken });
      return taken;
    };
    // an unknown rule: both answers are followed, like a probabilistic choice without a probability
    const decide = (rule: UnknownRule): boolean => {
      const taken = next();
      decisions.push({ kind: 'unknown', taken, rule });
      unknowns = true;
      asked ??= rule;
      return taken;
    };
    const w = cloneWorld(world);
    if (probe.sport === undefined) w.nextPort++;
    w.probes = (w.probes ?? 0) + 1;
    const run: PathRun = new PathRun(lab, w, choose, opts.verbose ?? false, decide);
    const play = new ProbePlay(run, lab);
    let observation: Observation;
    try {
      if (w.synAcks?.length) play.startRtx((x) => rtxInert(lab, w, x));
      const end = play.play(client, { ...e });
      if (e.proto === 6) {
        // the client closes once connected, answered or not: the FIN exchange, packet by packet
        play.close(client, { ...e });
      }
      if (w.synAcks?.length) {
        const read = (v: World) => JSON.stringify(observe(lab, v, end, e).conntrack);
        play.beforeRead((x) => rtxChanges(lab, w, x, read));
      }
      observation = observe(lab, w, end, e);
      // this probe's ARP sent an earlier probe's waiting packets on: its own result is open too
      if (w.unfollowed) {
        observation = openObservation(e.proto, w.unfollowed);
        unknowns = true;
      }
    } catch (err) {
      if (!(err instanceof FateUnknown)) throw err;
      observation = openObservation(e.proto, err.rule);
      unknowns = true;
      // the packet went where the model does not follow it: what it did there (conntrack, neighbour entries
      // started, lists, counters) is unknown to every later probe as well
      w.unfollowed ??= err.rule;
    }
    played.push({ decisions, observation, world: w, run: { observation, trace: run.trace, world: w } });
    // next branch: flip the last "taken" decision to "not taken"
    let j = decisions.length - 1;
    while (j >= 0 && !decisions[j]!.taken) j--;
    if (j < 0) break;
    prefix = [...decisions.slice(0, j).map((d) => d.taken), false];
  }
  if (!unknowns) return mergeSame(played.map((b) => ({ p: probabilityOf(b.decisions), value: b.run })));
  return mergeSame(
    foldBranches(played).map(({ p, value }) => {
      const run: ProbeRun = { ...value.head.run, observation: value.observation, world: value.head.world };
      // a branch standing for others with its observation but other state carries its own world (groupResult)
      if (value.branches)
        run.branches = value.branches.map((b) => (b.world === b.run.world ? b.run : { ...b.run, world: b.world }));
      return { p, value: run };
    }),
  );
}

/** The state a later packet reads: rule state of every host, and whether a conntrack entry was made there. */
function sharedState(w: World): string {
  const hosts = [...w.hosts].map(([h, s]: [string, HostState]) => [
    h,
    s.ct.nextId,
    [...s.recent].map(([n, m]) => [n, [...m]]),
    [...s.nth],
    [...s.tokens],
    [...s.nftSets].map(([n, m]) => [n, [...m]]),
    [...s.routeErrors],
    [...s.redirects],
    [...s.exceptions],
    [...s.neighbours],
  ]);
  return JSON.stringify([hosts, w.unfollowed ?? null]);
}

/** Each entry's `moves`: the TCP states the retransmissions named for it (a FIN, an ACK answering data or a FIN sent
 *  again) can take it to by the time the lab reads it. */
function setMoves(ops: ReadonlyMap<CtEntry, ReadonlySet<'fin' | 'ack'>>): void {
  for (const [x, o] of ops) {
    if (x.orig.proto !== 6 || x.reset || !(x.seenReply || x.picked)) continue;
    const m = tcpMoves(x.tcpClose, o);
    if (m.length) x.moves = m;
  }
}

/** The unknown a resent SYN-ACK's open time is: before or after `what` (hook `timer`, spec/semantics.md §8.1). */
function timerRule(x: SynAckRtx, what: string): UnknownRule {
  return {
    host: x.server,
    hook: 'timer',
    table: 'tcp',
    chain: `request ${formatTuple(x.pkt)}`,
    rule: x.sent + 1,
    spec: `SYN-ACK resent ${nextRtxAfter(x)} s after the first (reqsk_timer_handler)`,
    why: `${what} (world time moves only with waits)`,
  };
}

/** Does resending x's SYN-ACK now leave every state a later packet reads as it was, with no choice on the way?
 *  Then when it comes does not matter. */
function rtxInert(lab: ModelLab, world: World, x: SynAckRtx): boolean {
  const w = cloneWorld(world);
  let open = false;
  const run = new PathRun(
    lab,
    w,
    (p) => {
      if (p > 0 && p < 1) open = true;
      return p >= 0.5;
    },
    false,
    () => {
      open = true;
      return true;
    },
  );
  try {
    new ProbePlay(run, lab).playRtx(x);
  } catch (err) {
    if (!(err instanceof FateUnknown)) throw err;
    return false;
  }
  return !open && sharedState(w) === sharedState(world);
}

/** Could resending x's SYN-ACK now change what `read` gives? Every way its choices and unknown rules can go is
 *  played (as runProbe enumerates a probe's); one the model cannot follow may change anything. */
function rtxChanges(lab: ModelLab, world: World, x: SynAckRtx, read: (w: World) => string): boolean {
  const before = read(world);
  let prefix: boolean[] = [];
  for (let played = 0; played < RTX_BRANCHES; played++) {
    const taken: boolean[] = [];
    const next = (): boolean => {
      const t = taken.length < prefix.length ? prefix[taken.length]! : true;
      taken.push(t);
      return t;
    };
    const w = cloneWorld(world);
    const run = new PathRun(lab, w, (p) => (p <= 0 || p >= 1 ? p >= 1 : next()), false, next);
    try {
      new ProbePlay(run, lab).playRtx(x);
    } catch (err) {
      if (!(err instanceof FateUnknown)) throw err;
      return true;
    }
    if (read(w) !== before) return true;
    let j = taken.length - 1;
    while (j >= 0 && !taken[j]) j--;
    if (j < 0) return false;
    prefix = [...taken.slice(0, j), false];
  }
  return true;
}

/** A branch's probability: the product of its probabilistic decisions. */
function probabilityOf(ds: readonly Decision[]): number {
  let p = 1;
  for (const d of ds) if (d.kind === 'chance') p *= d.taken ? d.p : 1 - d.p;
  return p;
}

/** Results with equal observations are one outcome; their probabilities add up. */
function mergeSame(list: Weighted<ProbeRun>[]): Weighted<ProbeRun>[] {
  if (list.length < 2) return list; // one result: nothing to merge (and no O(conntrack) key to build)
  const byKey = new Map<string, Weighted<ProbeRun>>();
  for (const r of list) {
    const key = JSON.stringify(r.value.observation);
    const prev = byKey.get(key);
    if (prev) prev.p += r.p;
    else byKey.set(key, { p: r.p, value: r.value });
  }
  return [...byKey.values()];
}
