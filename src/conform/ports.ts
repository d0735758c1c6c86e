// The one source-port counter's range (spec/equivalence.md §1): probes that do not choose a source port get
// FIRST_PORT, FIRST_PORT+1, ... in plan order (conform/plan.ts), on every side and in every consumer.

export const FIRST_PORT = 41000;
/** The counter wraps before the end of the kernel's ephemeral range (ip_local_port_range: 32768-60999). */
export const LAST_PORT = 60999;
