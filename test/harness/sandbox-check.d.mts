// Types of sandbox-check.mjs.
export declare const SANDBOX_ENV: 'MCAST_NETNS_SANDBOX';
export declare const HARNESS_IFACE_PREFIX: 'mc';

export interface SandboxInputs {
  /** Value of MCAST_NETNS_SANDBOX, or undefined. */
  token: string | undefined;
  /** This process's network namespace, as the /proc/self/ns/net link reads ('net:[N]'). */
  netns: string;
  /** PID 1's network namespace link, or null when it cannot be read. */
  pid1Netns: string | null;
  /** Interface names (from /sys/class/net and /proc/net/dev). */
  interfaces: readonly string[];
  /** Text of /proc/net/route. */
  ipv4Routes: string;
  /** Text of /proc/net/ipv6_route. */
  ipv6Routes: string;
}

export declare function ipv4DefaultRoutes(text: string): string[];
export declare function ipv6DefaultRoutes(text: string): string[];
/** Returns the reasons why `inputs` do not describe the sandbox; empty when they do. */
export declare function checkSandbox(inputs: SandboxInputs): string[];
export declare function procNetDevInterfaces(text: string): string[];
export declare function readSandboxInputs(): SandboxInputs;
/** Throws (code ERR_NOT_SANDBOXED) unless this process is inside the run-in-netns sandbox. */
export declare function assertSandboxed(inputs?: SandboxInputs): void;
