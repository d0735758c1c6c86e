// The grammar of the names a topology gives to hosts and interfaces. They reach commands
// (`ip -batch` lines, sysctl paths, namespace names, repro.sh scripts), so they are checked
// once, when a topology is loaded, for the model and the lab alike: a name the model accepts
// can always be created in the lab.

/** IFNAMSIZ (include/uapi/linux/if.h) counts the terminating NUL: 15 characters at most. */
export const IFNAME_MAX = 15;
export const HOSTNAME_MAX = 63;

/**
 * Linux's own rule (dev_valid_name, net/core/dev.c) allows any bytes but '/', ':' and
 * whitespace, except "." and "..". nfconform accepts the portable part of that set, which every
 * command line, `ip -batch` line (where '"', '#' and '\' are special) and shell script carries
 * unquoted: letters, digits, '_', '.', '-', starting with a letter, digit or '_'. Refused too:
 * '%' (the kernel turns "eth%d" into a new name), "all" and "default" (the kernel refuses them:
 * /proc/sys/net/ipv4/conf/ has entries of those names).
 */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function common(name: string, max: number): string | undefined {
  if (name.length === 0) return 'a name must not be empty';
  if (name.length > max) return `a name has at most ${max} characters`;
  if (!NAME.test(name))
    return 'a name has only letters, digits, "_", "." and "-", and starts with a letter, digit or "_"';
  if (name in Object.prototype) return 'this name is reserved';
  return undefined;
}

/** Why `name` is not a valid interface name, or undefined when it is. */
export function ifNameProblem(name: string): string | undefined {
  if (name === 'all' || name === 'default') return `"${name}" is reserved by the kernel (net.ipv4.conf.${name})`;
  return common(name, IFNAME_MAX);
}

/** Why `name` is not a valid host name (it becomes part of a network namespace's name), or undefined. */
export function hostNameProblem(name: string): string | undefined {
  return common(name, HOSTNAME_MAX);
}
